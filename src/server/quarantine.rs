//! Quarantined projects' files are not served (PEP 792: the index MUST NOT
//! offer them for download). Downloads are served by storage key without a
//! query, so this keeps the set of quarantined keys in memory, read again
//! only when the catalogue generation moved (any status change moves it):
//! a download costs a set lookup, and what a page's cache check costs.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::server::db::{Db, catalog, manage};

#[derive(Default)]
pub struct Quarantine {
    known: RwLock<Option<(i64, Arc<HashSet<String>>)>>,
}

impl Quarantine {
    /// Whether the object at `key` (a file's, or its `.metadata`) belongs
    /// to a quarantined project.
    pub async fn blocks(&self, db: &Db, key: &str) -> Result<bool, sqlx::Error> {
        let base = key.strip_suffix(".metadata").unwrap_or(key);
        let generation = catalog::generation(db).await?;
        if let Ok(known) = self.known.read()
            && let Some((at, keys)) = known.as_ref()
            && *at == generation
        {
            return Ok(keys.contains(base));
        }
        let keys: Arc<HashSet<String>> = Arc::new(manage::quarantined_keys(db).await?.into_iter().collect());
        let blocked = keys.contains(base);
        if let Ok(mut known) = self.known.write() {
            *known = Some((generation, keys));
        }
        Ok(blocked)
    }
}
