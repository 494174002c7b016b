//! Full-text search over projects, classifier filters and facets: SQLite's
//! FTS5, or PostgreSQL's weighted `tsvector` with a GIN index. Both rank by
//! the same rules: the exact name, then a name prefix, then field boosts per
//! term (name ×10, summary and keywords ×5), then the engine's relevance
//! (bm25 or `ts_rank` with the same field weights), then the name.

use sqlx::{FromRow, Postgres, QueryBuilder, Sqlite};

use super::{Db, Pool, push_limit};
use crate::domain::search::{SearchOrder, SearchQuery};

pub const PAGE_SIZE: i64 = 20;

/// A text query ranks at most this many matches by relevance: the first
/// ones by id (the longest-listed projects), after the exact name and the
/// closest name completions, which come from the name index wherever they
/// are. Ranking costs a look-up per match and per field boost; a word that
/// a million-project catalogue uses thirty thousand times cost seconds of
/// CPU per search when every match was ranked (make bench, the scale suite).
/// Facets count the same matches. A query with fewer matches is ranked
/// whole, as before.
pub const WINDOW: i64 = crate::domain::search::RANK_WINDOW;

/// Matches counted at most; more read "10,000+" (as on pypi.org).
pub const COUNT_CAP: i64 = 10_000;

/// The closest name completions put first in a windowed ranking.
const TOP_NAMES: i64 = 8;

#[derive(Debug, Clone, FromRow, serde::Deserialize)]
pub struct Hit {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    pub last_upload: Option<i64>,
}

#[derive(Clone)]
pub struct Found {
    /// How many projects match, up to `COUNT_CAP`.
    pub total: i64,
    /// More than `COUNT_CAP` match.
    pub total_is_lower_bound: bool,
    /// How many results can be paged through: `total`, or, when ranking
    /// was windowed, the window and the name completions ranked before it.
    pub ranked: i64,
    /// Ranking and facets covered only the first `WINDOW` matches.
    pub windowed: bool,
    pub hits: Vec<Hit>,
    pub facets: Vec<(String, i64)>,
}

/// `Found::total` and its flag from a count capped at `COUNT_CAP + 1`.
fn capped(n: i64) -> (i64, bool) {
    (n.min(COUNT_CAP), n > COUNT_CAP)
}

/// The offset of result page `page` (from 1). Saturating: a page number
/// from a URL may be anything up to `i64::MAX`, and a page past the end is
/// empty (the caller answers 404), never an overflow.
fn page_offset(page: i64) -> i64 {
    page.saturating_sub(1).max(0).saturating_mul(PAGE_SIZE)
}

/// A page of a ranking that puts `top` (ranked first) before the window's
/// own ranking: which of `top` the page shows, and the window's offset and
/// limit for the rest.
fn split_page(top: usize, offset: i64) -> (std::ops::Range<usize>, i64, i64) {
    let top = top as i64;
    let from = offset.min(top);
    let to = offset.saturating_add(PAGE_SIZE).min(top);
    let shown = from as usize..to as usize;
    (shown, (offset - top).max(0), PAGE_SIZE - (to - from))
}

#[derive(FromRow)]
struct TopHit {
    id: i64,
    #[sqlx(flatten)]
    hit: Hit,
}

/// How a statement tests that a project has a classifier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Membership {
    /// `id IN (the classifier's projects)`: the set is built once per
    /// statement, for statements that test every match (counts, whole
    /// rankings, browsing). Building it is the cost: SQLite's ephemeral
    /// index of a common classifier's 111,000 projects (a million in all)
    /// took about 150 ms.
    Set,
    /// A correlated `EXISTS` on the key (project_id, classifier): a look-up
    /// per row tested, for statements that stop after a few rows (a
    /// relevance window, the closest names). By hand on the SQLite file:
    /// the window 192 ms -> 19 ms, the closest names 1.2 s -> 5 ms (SQLite
    /// drove that one from the set, then sorted it).
    Probe,
}

/// Appends "the project `id` has every one of these classifiers (or a child)".
/// A child is `{c} :: …`: the byte range from `{c} :: ` up to `{c} ::!`
/// (`!` follows the space), so both the classifier and its children are
/// ranges of an index (byte order on both engines: SQLite's binary
/// collation, PostgreSQL's "C"), not a scan of every project's classifiers
/// (seconds per filtered page at a million projects).
fn push_filters<DB: sqlx::Database>(b: &mut QueryBuilder<DB>, id: &str, classifiers: &[String], how: Membership)
where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for c in classifiers {
        b.push(match how {
            Membership::Set => format!(" AND {id} IN (SELECT fc.project_id FROM project_classifiers fc WHERE "),
            Membership::Probe => {
                format!(" AND EXISTS (SELECT 1 FROM project_classifiers fc WHERE fc.project_id = {id} AND ")
            }
        });
        push_classifier_range(b, "fc", c);
        b.push(")");
    }
}

/// Appends "`{table}.classifier` is `classifier` or a child of it", in
/// parentheses: the two ranges of the index that `push_filters` explains.
fn push_classifier_range<DB: sqlx::Database>(b: &mut QueryBuilder<DB>, table: &str, classifier: &str)
where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    b.push(format!("({table}.classifier = "));
    b.push_bind(classifier.to_owned());
    b.push(format!(" OR ({table}.classifier >= "));
    b.push_bind(format!("{classifier} :: "));
    b.push(format!(" AND {table}.classifier < "));
    b.push_bind(format!("{classifier} ::!"));
    b.push("))");
}

/// Appends `FROM` the projects that have `classifier` (or a child):
/// its range of the index on (classifier, project_id), each project looked
/// up for whether it is listed, as `fc0.project_id` and `p`. Read in the
/// index's order, so a statement that stops at a limit stops early: SQLite
/// counted a common classifier's projects up to the cap in 3 to 7 ms this
/// way at a million projects, where building the set of all of them first
/// (`Membership::Set`) took 28 ms for one project in nine, 210 ms for a
/// classifier every project has and 390 ms for a parent of classifiers
/// they all have (make bench's scale catalogue, by hand).
/// A project with the classifier and a child of it is here twice: the
/// caller counts distinct ids.
fn push_members_of<DB: sqlx::Database>(b: &mut QueryBuilder<DB>, classifier: &str)
where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    b.push(
        " FROM project_classifiers fc0 JOIN projects p ON p.id = fc0.project_id \
         WHERE p.latest_release_id IS NOT NULL AND ",
    );
    push_classifier_range(b, "fc0", classifier);
}

/// One search: everything its answer depends on (the search cache keys
/// its answers by these).
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub query: &'a SearchQuery,
    pub order: SearchOrder,
    /// Classifiers the projects must all have (or a child of each).
    pub classifiers: &'a [String],
    /// The result page, from 1.
    pub page: i64,
    /// How many facets to count (0: none).
    pub facet_limit: i64,
}

/// The matching projects (all of them for an empty query), filtered by
/// classifiers, ranked or ordered, one page of them, and facet counts.
pub async fn search(db: &Db, request: Request<'_>) -> Result<Found, sqlx::Error> {
    match db.pool() {
        Pool::Sqlite(pool) => match request.query.fts_expression() {
            Some(expr) => search_sqlite(db, pool, &expr, request).await,
            None => browse(db, request).await,
        },
        Pool::Postgres(pool) => match request.query.tsquery() {
            Some(tsquery) => search_postgres(db, pool, &tsquery, request).await,
            None => browse(db, request).await,
        },
    }
}

/// A query builder for the engine of `pool`.
fn builder<DB: sqlx::Database>(_pool: &sqlx::Pool<DB>, sql: &str) -> QueryBuilder<DB> {
    QueryBuilder::new(sql)
}

/// The projects whose normalized name starts with the query's, the
/// closest completions first: the shortest of the first 64 in name order
/// (the exact name, then `flask` before `flake8` and `flask-login` for
/// "fla"). A range of the unique index on normalized names, on either
/// engine (PostgreSQL's "C" collation and SQLite's binary order are byte
/// order): a prefix that many names share ("qui" in a million projects)
/// costs a short range, not the ranking of every match. Suggestions start
/// with these; so does a windowed ranking.
async fn closest_names(
    db: &Db,
    query: &SearchQuery,
    classifiers: &[String],
    limit: i64,
) -> Result<Vec<TopHit>, sqlx::Error> {
    let prefix = query.normalized_name();
    // Normalized names are ASCII letters, digits and `-`, all below `~`.
    if prefix.is_empty() || !prefix.bytes().all(|b| b < b'~') {
        return Ok(Vec::new());
    }
    each_backend!(db, pool => {
        // The closest `limit` of the range's first 64 are chosen from the
        // names alone; only those are joined to their release and summary
        // (joining all 64 first cost 128 look-ups in two big tables per
        // keystroke).
        let mut q = builder(
            pool,
            "SELECT p.id, p.name, p.normalized_name, COALESCE(r.version, '') AS version, \
             COALESCE(m.summary, '') AS summary, p.last_upload \
             FROM (SELECT id, normalized_name FROM (SELECT id, normalized_name FROM projects \
             WHERE normalized_name >= ",
        );
        q.push_bind(prefix.clone());
        q.push(" AND normalized_name < ");
        q.push_bind(format!("{prefix}~"));
        q.push(" AND latest_release_id IS NOT NULL");
        push_filters(&mut q, "id", classifiers, Membership::Probe);
        q.push(" ORDER BY normalized_name LIMIT 64) f ORDER BY length(normalized_name), normalized_name LIMIT ");
        push_limit(&mut q, limit);
        q.push(
            ") c JOIN projects p ON p.id = c.id \
             LEFT JOIN releases r ON r.id = p.latest_release_id \
             LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id \
             ORDER BY length(p.normalized_name), p.normalized_name",
        );
        q.build_query_as::<TopHit>().fetch_all(pool).await
    })
}

async fn search_sqlite(
    db: &Db,
    pool: &sqlx::SqlitePool,
    expr: &str,
    request: Request<'_>,
) -> Result<Found, sqlx::Error> {
    let Request {
        query,
        order,
        classifiers,
        page,
        facet_limit,
    } = request;
    let offset = page_offset(page);
    // FTS5 answers a prefix term by merging the lists of every word that
    // starts so, whole, whatever the LIMIT: that is most of a search's cost,
    // so each statement below runs the full-text query once. First the
    // count, up to the cap: a plain capped scan (FTS5 stops there), with no
    // table of the matches built to find where the window ends.
    let how = if classifiers.is_empty() {
        Membership::Set
    } else {
        filter_membership(pool, classifiers).await?
    };
    let mut count_q = QueryBuilder::<Sqlite>::new(
        "SELECT COUNT(*) FROM (SELECT s.rowid FROM project_search s WHERE project_search MATCH ",
    );
    count_q.push_bind(expr.to_owned());
    // `+s.rowid`: not a constraint FTS5 is given. Given `rowid IN (the
    // projects with a classifier)`, SQLite runs the full-text query once per
    // listed project: minutes for a broad word and a common classifier at a
    // million projects. As a filter on the matches, 0.2 s.
    push_filters(&mut count_q, "+s.rowid", classifiers, how);
    count_q.push(" LIMIT ");
    push_limit(&mut count_q, COUNT_CAP + 1);
    count_q.push(")");
    let counted: i64 = count_q.build_query_scalar().fetch_one(pool).await?;
    let (total, total_is_lower_bound) = capped(counted);
    // The window is full: ranking (by relevance) and facets cover only its
    // matches, the first `WINDOW` by id.
    let full = counted >= WINDOW;
    let windowed = full && order == SearchOrder::Relevance;
    // A windowed ranking starts with the exact name and the closest
    // completions; a whole ranking puts them first by itself.
    let top = if windowed {
        closest_names(db, query, classifiers, TOP_NAMES).await?
    } else {
        Vec::new()
    };
    let (top_shown, window_offset, window_limit) = split_page(top.len(), offset);

    // Then one statement: the matches (the window's, for a relevance
    // ranking) with their relevance, ranked; the page; the facets (the
    // window's, whatever the order).
    let relevance = order == SearchOrder::Relevance;
    let mut q = QueryBuilder::<Sqlite>::new("WITH w AS MATERIALIZED (SELECT s.rowid AS id");
    // bm25 with every weight but one field's at zero is zero exactly when
    // the field holds none of the terms: the field boosts (name x10,
    // summary and keywords x5, as pypi.org weighs fields) come from the
    // same pass over the index. bm25 with all the weights only breaks
    // ties, because its IDF vanishes for words most projects use.
    let single = query.terms.len() == 1;
    if relevance {
        q.push(", bm25(project_search, 10.0, 5.0, 5.0, 1.0) AS score");
        if single {
            q.push(
                ", bm25(project_search, 1.0, 0.0, 0.0, 0.0) AS in_name, \
                 bm25(project_search, 0.0, 1.0, 0.0, 0.0) AS in_summary, \
                 bm25(project_search, 0.0, 0.0, 1.0, 0.0) AS in_keywords",
            );
        }
    }
    q.push(" FROM project_search s WHERE project_search MATCH ");
    q.push_bind(expr.to_owned());
    // A relevance window stops after `WINDOW` matches: a look-up each.
    // Every match, in another order: as the count tested them.
    let how = if relevance { Membership::Probe } else { how };
    push_filters(&mut q, "+s.rowid", classifiers, how);
    if relevance {
        // The window: FTS5 returns matches by rowid (it consumes this ORDER
        // BY) and stops after the window's last, scoring only those. Fewer
        // matches are all of them.
        q.push(" ORDER BY s.rowid LIMIT ");
        push_limit(&mut q, WINDOW);
    }
    q.push("), fw AS MATERIALIZED (SELECT id FROM w ORDER BY id LIMIT ");
    // The window's matches whatever the order: what facets count, and where
    // the window ends.
    push_limit(&mut q, WINDOW);
    q.push(")");
    // Several terms: each term's fields, one pass per term. Terms are
    // ASCII letters and digits only (`SearchQuery::parse`).
    if relevance && !single {
        for (i, term) in query.terms.iter().enumerate() {
            q.push(format!(
                ", t{i} AS MATERIALIZED (SELECT rowid AS id, bm25(project_search, 1.0, 0.0, 0.0, 0.0) AS in_name, \
                 bm25(project_search, 0.0, 1.0, 0.0, 0.0) AS in_summary, \
                 bm25(project_search, 0.0, 0.0, 1.0, 0.0) AS in_keywords \
                 FROM project_search WHERE project_search MATCH "
            ));
            q.push_bind(format!("\"{term}\"*"));
            // Up to the window's end (a bound FTS5 is given: it stops there).
            q.push(" AND rowid <= (SELECT MAX(id) FROM w))");
        }
    }
    q.push(", ranked AS (SELECT w.id, p.normalized_name AS sort_name, p.last_upload");
    if relevance {
        q.push(", p.normalized_name = ");
        q.push_bind(query.normalized_name());
        q.push(" AS exact, substr(p.normalized_name, 1, length(");
        q.push_bind(query.normalized_name());
        q.push(")) = ");
        q.push_bind(query.normalized_name());
        q.push(" AS prefix, w.score, (0");
        let fields = |b: &mut QueryBuilder<Sqlite>, t: &str| {
            b.push(format!(
                " + 10 * COALESCE({t}.in_name < 0, 0) + 5 * COALESCE({t}.in_summary < 0, 0) \
                 + 5 * COALESCE({t}.in_keywords < 0, 0)"
            ));
        };
        if single {
            fields(&mut q, "w");
        } else {
            for i in 0..query.terms.len() {
                fields(&mut q, &format!("t{i}"));
            }
        }
        q.push(") AS boost");
    }
    q.push(" FROM w JOIN projects p ON p.id = w.id");
    if relevance && !single {
        for i in 0..query.terms.len() {
            q.push(format!(" LEFT JOIN t{i} ON t{i}.id = w.id"));
        }
    }
    if !top.is_empty() {
        let mut names = q.separated(", ");
        names.push_unseparated(" WHERE p.normalized_name NOT IN (");
        for t in &top {
            names.push_bind(t.hit.normalized_name.clone());
        }
        names.push_unseparated(")");
    }
    let order_by = match order {
        SearchOrder::Relevance => "exact DESC, prefix DESC, boost DESC, score ASC, sort_name ASC",
        SearchOrder::Newest => "last_upload DESC NULLS LAST, sort_name ASC",
        SearchOrder::Name => "sort_name ASC",
    };
    q.push(format!("), page AS (SELECT * FROM ranked ORDER BY {order_by} LIMIT "));
    // A literal (`db::push_limit`): the page's size less the closest names
    // it shows, a handful of numbers. The offset follows the visitor's page
    // and stays bound (SQLite does not plan by it).
    push_limit(&mut q, window_limit);
    q.push(" OFFSET ");
    q.push_bind(window_offset);
    q.push(format!(
        ") SELECT (SELECT json_group_array(json_object('name', h.name, 'normalized_name', h.normalized_name, \
                 'version', h.version, 'summary', h.summary, 'last_upload', h.last_upload)) FROM ( \
             SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, \
                 COALESCE(m.summary, '') AS summary, p.last_upload \
             FROM page JOIN projects p ON p.id = page.id \
             LEFT JOIN releases r ON r.id = p.latest_release_id \
             LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id \
             ORDER BY {}) h), \
         (SELECT json_group_array(json_array(f.classifier, f.n)) FROM ( \
             SELECT pc.classifier, COUNT(*) AS n FROM fw CROSS JOIN project_classifiers pc ON pc.project_id = fw.id \
             GROUP BY pc.classifier ORDER BY n DESC, pc.classifier ASC LIMIT ",
        order_by
            .split(", ")
            .map(|o| format!("page.{o}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    push_limit(&mut q, facet_limit);
    q.push(") f), (SELECT MAX(id) FROM fw)");
    let (hits, facets, last): (String, String, Option<i64>) = q.build_query_as().fetch_one(pool).await?;
    // Where the window ends, when it is full.
    let cut = last.filter(|_| full);
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let window_hits: Vec<Hit> = serde_json::from_str(&hits).map_err(decode)?;
    let facets = serde_json::from_str(&facets).map_err(decode)?;
    Ok(assemble(
        total,
        total_is_lower_bound,
        cut,
        windowed,
        top,
        top_shown,
        window_hits,
        facets,
    ))
}

/// Listed projects `filter_membership` looks at.
const SAMPLE: i64 = 2_000;

/// How a filtered full-text search on SQLite tests its classifiers against
/// every match (its count, and all its matches in an order other than
/// relevance). The classifier's set (`Membership::Set`) costs its size: 28
/// ms for one project in nine at a million projects, 220 ms for a
/// classifier every project has (make bench's scale catalogue, by hand). A
/// probe per match (`Membership::Probe`) costs about 2 µs a match read: 22
/// ms to count such a classifier's matches to the cap, but every match of
/// a broad word for a rare classifier. So the newest `SAMPLE` listed
/// projects are probed first (about 1.5 ms), and matches are probed when
/// at least half of those have the classifiers. The sample does not read
/// the full-text index: for a short prefix (`a`), that alone is most of a
/// search's time.
async fn filter_membership(pool: &sqlx::SqlitePool, classifiers: &[String]) -> Result<Membership, sqlx::Error> {
    let mut q = QueryBuilder::<Sqlite>::new("SELECT COUNT(*), COALESCE(SUM(TRUE");
    push_filters(&mut q, "p.id", classifiers, Membership::Probe);
    q.push(
        "), 0) FROM (SELECT p.id FROM projects p WHERE p.latest_release_id IS NOT NULL \
         ORDER BY p.id DESC LIMIT ",
    );
    push_limit(&mut q, SAMPLE);
    q.push(") p");
    let (sampled, passed): (i64, i64) = q.build_query_as().fetch_one(pool).await?;
    Ok(if passed * 2 >= sampled && sampled > 0 {
        Membership::Probe
    } else {
        Membership::Set
    })
}

/// A search's result from its parts: the name completions ranked first
/// (those on this page), then the window's page.
#[allow(clippy::too_many_arguments)]
fn assemble(
    total: i64,
    total_is_lower_bound: bool,
    cut: Option<i64>,
    windowed: bool,
    top: Vec<TopHit>,
    top_shown: std::ops::Range<usize>,
    window_hits: Vec<Hit>,
    facets: Vec<(String, i64)>,
) -> Found {
    let ranked = match (windowed, cut) {
        // The window holds WINDOW matches; the completions inside it are
        // shown before it instead.
        (true, Some(cut)) => top.len() as i64 + WINDOW - top.iter().filter(|t| t.id <= cut).count() as i64,
        _ => total,
    };
    let mut hits: Vec<Hit> = top
        .into_iter()
        .skip(top_shown.start)
        .take(top_shown.len())
        .map(|t| t.hit)
        .collect();
    hits.extend(window_hits);
    Found {
        total,
        total_is_lower_bound,
        ranked,
        windowed: cut.is_some(),
        hits,
        facets,
    }
}

/// Browsing pages before this offset probe, when more than `COUNT_CAP`
/// projects have the classifiers (`page_membership`). A probed page reads
/// about (offset + page) × listed ÷ matching projects, so at most
/// (offset + page) × listed ÷ `COUNT_CAP`: 2,200 rows at a million listed
/// projects for the last page that probes.
const PROBED_OFFSETS: i64 = 10 * PAGE_SIZE;

/// How a browsing page, and its facets' window (offset 0), test the
/// classifiers, once the count has told how many projects have them.
/// SQLite drives from the set of those projects (`Membership::Set`): it
/// gathers them all, then looks each up and sorts them for one page. That
/// is cheap for a classifier few projects have; at a million projects a
/// page cost 81 ms for one project in nine (111,000), and the facets'
/// window 23 ms, or 210 ms for a classifier every project has (make
/// bench's scale catalogue, by hand). When more than `COUNT_CAP` projects
/// have them (one listed project in a hundred at a million, or more),
/// reading projects in the page's order and probing each
/// (`Membership::Probe`) finds a page or the window in a few thousand rows
/// at most: 1 to 4 ms for those classifiers. The first pages only, so that
/// a deep page of a classifier just over the cap does not probe most of
/// the catalogue. PostgreSQL plans either form from its statistics (the
/// set's form took 4 to 15 ms there), so it keeps the set.
fn page_membership(db: &Db, more_than_cap: bool, offset: i64) -> Membership {
    match db.pool() {
        Pool::Sqlite(_) if more_than_cap && offset < PROBED_OFFSETS => Membership::Probe,
        _ => Membership::Set,
    }
}

/// Browsing (no text): every listed project by name or date, filtered by
/// classifiers, with their facets. The count stops at the cap, as a text
/// search's does (a million projects read "10,000+", and pages end there,
/// as on pypi.org). It comes first: how many projects match picks how the
/// page is read (`page_membership`). Then the page and the facets,
/// concurrently. The facets count every listed project up to the cap; past
/// it, the first `WINDOW` by id, as a broad text search's do (counting them
/// all grouped millions of rows per request: seconds at a million
/// projects). The same statements on both engines, but for the forms SQLite
/// counts one classifier in (`push_members_of`) and pages and facets in
/// (`page_membership`).
async fn browse(db: &Db, request: Request<'_>) -> Result<Found, sqlx::Error> {
    let Request {
        order,
        classifiers,
        page,
        facet_limit,
        ..
    } = request;
    let order_by = |table: &str| match order {
        SearchOrder::Newest => format!(" ORDER BY {table}last_upload DESC NULLS LAST, {table}sort_name ASC"),
        _ => format!(" ORDER BY {table}sort_name ASC"),
    };
    // Pages end at the cap: a page past it (any number, from a URL) is
    // empty without reading a million index entries to skip them.
    let offset = page_offset(page);
    let past_cap = offset >= COUNT_CAP;
    let (counted, hits, facets) = each_backend!(db, pool => {
        let listed = |sql: &str, how: Membership| {
            let mut b = builder(pool, sql);
            b.push(" FROM projects p WHERE p.latest_release_id IS NOT NULL");
            push_filters(&mut b, "p.id", classifiers, how);
            b
        };
        let mut count = match (db.pool(), classifiers) {
            // SQLite, one classifier: from its range of the index, a look-up
            // per project, up to the cap (`push_members_of`). Not for
            // several: driven from the first, a classifier every project has
            // beside one that none has read all million projects (8 s,
            // against 0.35 s for the sets).
            (Pool::Sqlite(_), [only]) => {
                let mut b = builder(pool, "SELECT COUNT(*) FROM (SELECT DISTINCT fc0.project_id");
                push_members_of(&mut b, only);
                b
            }
            _ => listed("SELECT COUNT(*) FROM (SELECT 1", Membership::Set),
        };
        count.push(" LIMIT ");
        push_limit(&mut count, COUNT_CAP + 1);
        count.push(") c");
        let counted: i64 = count.build_query_scalar().fetch_one(pool).await?;
        let total_is_lower_bound = counted > COUNT_CAP;
        let how = page_membership(db, total_is_lower_bound, offset);
        let mut page_q = listed(
            "SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, \
             COALESCE(m.summary, '') AS summary, p.last_upload \
             FROM (SELECT p.id AS id, p.last_upload AS last_upload, p.normalized_name AS sort_name",
            how,
        );
        page_q.push(order_by(""));
        page_q.push(" LIMIT ");
        page_q.push_bind(PAGE_SIZE);
        page_q.push(" OFFSET ");
        page_q.push_bind(offset);
        page_q.push(
            ") ranked JOIN projects p ON p.id = ranked.id \
             LEFT JOIN releases r ON r.id = p.latest_release_id \
             LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id",
        );
        page_q.push(order_by("ranked."));
        let hits = async {
            if past_cap {
                Ok(Vec::new())
            } else {
                page_q.build_query_as::<Hit>().fetch_all(pool).await
            }
        };
        let mut facet_q = builder(
            pool,
            "SELECT classifier, COUNT(*) AS n FROM project_classifiers WHERE project_id IN (SELECT p.id \
             FROM projects p WHERE p.latest_release_id IS NOT NULL",
        );
        // Past the cap, the first `WINDOW` by id: probed in id order on
        // SQLite (`page_membership`), as many rows as the window needs.
        push_filters(&mut facet_q, "p.id", classifiers, page_membership(db, total_is_lower_bound, 0));
        if total_is_lower_bound {
            facet_q.push(" ORDER BY p.id LIMIT ");
            push_limit(&mut facet_q, WINDOW);
        }
        facet_q.push(") GROUP BY classifier ORDER BY n DESC, classifier ASC LIMIT ");
        push_limit(&mut facet_q, facet_limit);
        let facets = async {
            if facet_limit == 0 {
                Ok(Vec::new())
            } else {
                facet_q.build_query_as::<(String, i64)>().fetch_all(pool).await
            }
        };
        let (hits, facets) = tokio::try_join!(hits, facets)?;
        Ok::<_, sqlx::Error>((counted, hits, facets))
    })?;
    let (total, total_is_lower_bound) = capped(counted);
    Ok(Found {
        total,
        total_is_lower_bound,
        ranked: total,
        windowed: total_is_lower_bound,
        hits,
        facets,
    })
}

/// A text search on PostgreSQL: where the window ends (as on SQLite), the
/// closest name completions when the ranking is windowed, then one
/// statement and one pass over the index for the rest: the matches (with
/// their ranking columns) are gathered once, then paged and faceted from
/// there, and counted up to the cap. Three separate queries would each look
/// up every match in the GIN index and read its row again.
async fn search_postgres(
    db: &Db,
    pool: &sqlx::PgPool,
    tsquery: &str,
    request: Request<'_>,
) -> Result<Found, sqlx::Error> {
    let Request {
        query,
        order,
        classifiers,
        page,
        facet_limit,
    } = request;
    let offset = page_offset(page);
    // The count (up to the cap) and the window, from one pass over the
    // index. The matches come in the order of the table's pages, not by id,
    // so past the cap the window is the first `WINDOW` ids of the matches
    // counted, not of all: every one a match all the same.
    let mut count_q = QueryBuilder::<Postgres>::new(
        "WITH m AS MATERIALIZED (SELECT s.project_id AS id FROM project_search s \
         WHERE s.document @@ to_tsquery('cheeseshop_search', ",
    );
    count_q.push_bind(tsquery.to_owned());
    count_q.push(")");
    push_filters(&mut count_q, "s.project_id", classifiers, Membership::Set);
    count_q.push(" LIMIT ");
    push_limit(&mut count_q, COUNT_CAP + 1);
    // The window's ids come back too: the ranking below looks those up by
    // key instead of reading every match's row again for `id <= cut` (at a
    // million projects, 31,000 heap reads per search for 500 rows).
    count_q.push(") SELECT (SELECT COUNT(*) FROM m), (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM m ORDER BY id LIMIT ");
    push_limit(&mut count_q, WINDOW);
    count_q.push(") w)");
    let (total, first): (i64, Option<Vec<i64>>) = count_q.build_query_as().fetch_one(pool).await?;
    let first = first.unwrap_or_default();
    // The window's end, when there are that many matches (as on SQLite).
    let cut = (first.len() as i64 == WINDOW).then(|| first.last().copied()).flatten();
    let windowed = cut.is_some() && order == SearchOrder::Relevance;
    let top = if windowed {
        closest_names(db, query, classifiers, TOP_NAMES).await?
    } else {
        Vec::new()
    };
    let (top_shown, window_offset, window_limit) = split_page(top.len(), offset);

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
    q.push("]::tsquery[] AS boosts), matches AS MATERIALIZED (SELECT s.project_id AS id, p.normalized_name AS sort_name, p.last_upload");
    if order == SearchOrder::Relevance {
        q.push(", p.normalized_name = ");
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
        q.push(") AS boost, ts_rank('{0.1, 0.5, 0.5, 1.0}', s.document, q.query) AS score");
    }
    q.push(" FROM q, project_search s JOIN projects p ON p.id = s.project_id WHERE ");
    if windowed {
        // Matches already, filters included: rows by primary key.
        q.push("s.project_id = ANY(");
        q.push_bind(first);
        q.push(")");
    } else {
        q.push("s.document @@ q.query");
        push_filters(&mut q, "s.project_id", classifiers, Membership::Set);
    }
    let (order_by, page_columns) = match order {
        SearchOrder::Relevance => (
            "exact DESC, prefix DESC, boost DESC, score DESC, sort_name ASC",
            ", page.exact, page.prefix, page.boost, page.score",
        ),
        SearchOrder::Newest => ("last_upload DESC NULLS LAST, sort_name ASC", ""),
        SearchOrder::Name => ("sort_name ASC", ""),
    };
    q.push("), page AS (SELECT * FROM matches");
    if !top.is_empty() {
        let mut names = q.separated(", ");
        names.push_unseparated(" WHERE sort_name NOT IN (");
        for t in &top {
            names.push_bind(t.hit.normalized_name.clone());
        }
        names.push_unseparated(")");
    }
    q.push(format!(" ORDER BY {order_by} LIMIT "));
    q.push_bind(window_limit);
    q.push(" OFFSET ");
    q.push_bind(window_offset);
    q.push(format!(
        ") SELECT (SELECT COALESCE(json_agg(h ORDER BY {order_by}), '[]')::TEXT FROM ( \
             SELECT p.name, p.normalized_name, COALESCE(r.version, '') AS version, \
                 COALESCE(m.summary, '') AS summary, p.last_upload, page.sort_name{page_columns} \
             FROM page JOIN projects p ON p.id = page.id \
             LEFT JOIN releases r ON r.id = p.latest_release_id \
             LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id) h), \
         (SELECT COALESCE(json_agg(json_build_array(f.classifier, f.n)), '[]')::TEXT FROM ( \
             SELECT pc.classifier, COUNT(*) AS n FROM matches JOIN project_classifiers pc ON pc.project_id = matches.id"
    ));
    // Facets count the window's matches, whatever the order.
    if let Some(cut) = cut {
        q.push(" WHERE matches.id <= ");
        q.push_bind(cut);
    }
    q.push(" GROUP BY pc.classifier ORDER BY n DESC, pc.classifier ASC LIMIT ");
    push_limit(&mut q, facet_limit);
    q.push(") f)");
    let (hits, facets): (String, String) = q.build_query_as().fetch_one(pool).await?;
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let (total, total_is_lower_bound) = capped(total);
    let window_hits: Vec<Hit> = if window_limit == 0 {
        Vec::new()
    } else {
        serde_json::from_str(&hits).map_err(decode)?
    };
    let facets = serde_json::from_str(&facets).map_err(decode)?;
    Ok(assemble(
        total,
        total_is_lower_bound,
        cut,
        windowed,
        top,
        top_shown,
        window_hits,
        facets,
    ))
}

/// Suggestions while typing: the closest name completions
/// (`closest_names`); when fewer than `limit` names start so, the rest from
/// a full-text search.
pub async fn suggest(db: &Db, query: &SearchQuery, limit: i64) -> Result<Vec<Hit>, sqlx::Error> {
    let mut hits: Vec<Hit> = closest_names(db, query, &[], limit)
        .await?
        .into_iter()
        .map(|t| t.hit)
        .collect();
    if (hits.len() as i64) < limit && !query.is_empty() {
        let request = Request {
            query,
            order: SearchOrder::Relevance,
            classifiers: &[],
            page: 1,
            facet_limit: 0,
        };
        let found = search(db, request).await?;
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
