//! Search: results pages, suggestions while typing, the classifier list.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{SearchResults, Suggestion};

/// `/search?q=&o=&c=&page=`; `page` is text so that a bad one is a clear 400.
#[server(prefix = "/api", endpoint = "search")]
pub async fn search(
    #[server(default)] q: String,
    #[server(default)] o: String,
    #[server(default)] c: Vec<String>,
    #[server(default)] page: String,
) -> Result<SearchResults, AppError> {
    super::respond(ssr::search(&q, &o, c, &page).await)
}

#[server(prefix = "/api", endpoint = "suggest")]
pub async fn suggest(q: String) -> Result<Vec<Suggestion>, AppError> {
    super::respond(ssr::suggest(&q).await)
}

#[server(prefix = "/api", endpoint = "classifiers")]
pub async fn get_classifiers() -> Result<Vec<(String, i64)>, AppError> {
    super::respond(ssr::classifiers().await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::api::catalog::ssr::{human_date, iso};
    use crate::domain::search::{SearchOrder, SearchQuery};
    use crate::error::AppError;
    use crate::model::{SearchHit, SearchResults, Suggestion, UpstreamHit};
    use crate::server::db::search::{self as db_search, PAGE_SIZE};
    use crate::server::state::AppState;

    const MAX_FILTERS: usize = 10;
    const MAX_FILTER_CHARS: usize = 300;
    const SUGGESTIONS: usize = 8;
    /// Cached upstream projects shown beside a search's first page.
    const UPSTREAM_HITS: i64 = 10;

    pub async fn search(q: &str, o: &str, classifiers: Vec<String>, page: &str) -> Result<SearchResults, AppError> {
        let state = AppState::from_context()?;
        let page = match page.trim() {
            "" => 1,
            p => p
                .parse::<i64>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| AppError::BadRequest("The page number must be a whole number from 1 up.".into()))?,
        };
        let classifiers: Vec<String> = classifiers
            .into_iter()
            .map(|c| c.trim().chars().take(MAX_FILTER_CHARS).collect::<String>())
            .filter(|c| !c.is_empty())
            .take(MAX_FILTERS)
            .collect();
        let query = SearchQuery::parse(q);
        let order = match SearchOrder::parse(o) {
            // Relevance means nothing without a query: browse by name.
            SearchOrder::Relevance if query.is_empty() => SearchOrder::Name,
            order => order,
        };
        let request = db_search::Request {
            query: &query,
            order,
            classifiers: &classifiers,
            page,
            facet_limit: 40,
        };
        let found = state.search_cache.search(&state.db, request).await?;
        // Cached upstream projects by name, beside the first page of a
        // search (classifier filters are about local metadata).
        let upstream = match &state.upstream {
            Some(upstream) if page == 1 && classifiers.is_empty() && !query.is_empty() => {
                crate::server::db::upstream::search_cached(&state.db, &query.normalized_name(), UPSTREAM_HITS)
                    .await?
                    .into_iter()
                    .filter(|h| !upstream.hides_project(&h.normalized_name))
                    .map(|h| UpstreamHit {
                        normalized_name: h.normalized_name,
                        version: h.version.unwrap_or_default(),
                        summary: h.summary.unwrap_or_default(),
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let pages = ((found.ranked + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        if page > pages {
            return Err(AppError::NotFound(format!(
                "There is no page {page} of these results: they fit on {pages} page{}.",
                if pages == 1 { "" } else { "s" }
            )));
        }
        Ok(SearchResults {
            query: query.text.clone(),
            truncated: query.truncated,
            order,
            classifiers,
            page,
            pages,
            total: found.total,
            total_is_lower_bound: found.total_is_lower_bound,
            windowed: found.windowed,
            hits: found
                .hits
                .into_iter()
                .map(|h| SearchHit {
                    released_on: human_date(h.last_upload),
                    released_at: iso(h.last_upload),
                    name: h.name,
                    normalized_name: h.normalized_name,
                    version: h.version,
                    summary: h.summary,
                })
                .collect(),
            facets: found.facets,
            upstream,
        })
    }

    pub async fn suggest(q: &str) -> Result<Vec<Suggestion>, AppError> {
        let query = SearchQuery::parse(q);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let state = AppState::from_context()?;
        let hits = db_search::suggest(&state.db, &query, SUGGESTIONS as i64).await?;
        Ok(hits
            .into_iter()
            .map(|h| Suggestion {
                name: h.name,
                normalized_name: h.normalized_name,
                version: h.version,
                summary: h.summary,
            })
            .collect())
    }

    pub async fn classifiers() -> Result<Vec<(String, i64)>, AppError> {
        let state = AppState::from_context()?;
        Ok(db_search::classifiers(&state.db).await?)
    }
}
