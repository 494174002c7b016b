//! Search results kept until the catalogue changes: a query asked again
//! (the same words, order, filters and page) is answered from memory.
//!
//! A text search of a broad word at a million projects costs milliseconds
//! of database work for every asker: the engine gathers and counts every
//! match (a GIN bitmap on PostgreSQL, merged doclists in FTS5) before one
//! page can be ranked. Search engines keep the ordered results of recent
//! queries until their index changes (Solr's query result cache,
//! Elasticsearch's request cache); this is that cache, with the catalogue
//! generation (migration 0007) as the index's version, read before each
//! search as the response cache reads it (`page_cache`). An answer is
//! therefore never older than the last write, on any instance: a write
//! bumps the generation, and every entry of an older one is dropped.
//!
//! Only what the database answered is kept (`db::search::Found`), not the
//! page: relative dates ("3 minutes ago") are rendered per request.

use std::sync::Arc;

use crate::server::db::search::{self as db_search, Found, Request};
use crate::server::db::{Db, catalog};
use crate::server::generation_cache::{Charge, GenerationCache};

pub struct SearchCache {
    results: GenerationCache<Found>,
}

impl Charge for Found {
    /// The strings, and an allowance per allocation.
    fn charge(&self) -> usize {
        let hits: usize = self
            .hits
            .iter()
            .map(|h| h.name.len() + h.normalized_name.len() + h.version.len() + h.summary.len() + 160)
            .sum();
        let facets: usize = self.facets.iter().map(|(c, _)| c.len() + 48).sum();
        hits + facets + 128
    }
}

impl SearchCache {
    /// A cache of at most `max_bytes` of results; 0 turns it off.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            results: GenerationCache::new(max_bytes),
        }
    }

    /// `db::search::search`, answered from memory when the same search was
    /// made since the catalogue last changed.
    pub async fn search(&self, db: &Db, request: Request<'_>) -> Result<Found, sqlx::Error> {
        if !self.results.enabled() {
            return db_search::search(db, request).await;
        }
        let generation = match catalog::generation(db).await {
            Ok(generation) => generation,
            Err(error) => {
                tracing::warn!(%error, "search cache: cannot read the generation");
                return db_search::search(db, request).await;
            }
        };
        let key = key(&request);
        if let Some(found) = self.results.get(&key, generation) {
            return Ok(Found::clone(&found));
        }
        let found = db_search::search(db, request).await?;
        self.results.put(key, Arc::new(found.clone()), generation);
        Ok(found)
    }
}

/// Everything a search's answer depends on, unambiguously (JSON): the
/// terms, the whole query as a name (the exact-name ranking), the order,
/// the filters as a set (all of them must hold, in any order), the page and
/// how many facets.
fn key(request: &Request<'_>) -> String {
    let mut filters: Vec<&str> = request.classifiers.iter().map(String::as_str).collect();
    filters.sort_unstable();
    filters.dedup();
    serde_json::json!([
        request.query.terms,
        request.query.normalized_name(),
        request.order,
        filters,
        request.page,
        request.facet_limit
    ])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::{SearchOrder, SearchQuery};

    fn key_of(q: &str, order: SearchOrder, classifiers: &[&str], page: i64) -> String {
        let classifiers: Vec<String> = classifiers.iter().map(|c| c.to_string()).collect();
        key(&Request {
            query: &SearchQuery::parse(q),
            order,
            classifiers: &classifiers,
            page,
            facet_limit: 40,
        })
    }

    fn k(q: &str, classifiers: &[&str], page: i64) -> String {
        key_of(q, SearchOrder::Relevance, classifiers, page)
    }

    #[test]
    fn keys_tell_apart_what_changes_the_answer() {
        assert_eq!(
            k(" Flask Login ", &[], 1),
            k("flask login", &[], 1),
            "the same terms and name"
        );
        assert_ne!(k("flask login", &[], 1), k("flask-login", &[], 1), "another exact name");
        assert_ne!(k("flask", &[], 1), k("flask", &[], 2));
        assert_ne!(k("flask", &["A"], 1), k("flask", &[], 1));
        assert_eq!(
            k("flask", &["A", "B"], 1),
            k("flask", &["B", "A", "B"], 1),
            "filters are a set"
        );
        assert_ne!(
            k("a", &["b\",\"c"], 1),
            k("a", &["b", "c"], 1),
            "no filter can pose as two"
        );
        let order = |o| key_of("flask", o, &[], 1);
        assert_ne!(order(SearchOrder::Newest), order(SearchOrder::Name));
    }
}
