//! A bounded map of answers computed from the catalogue, each kept for the
//! catalogue generation it was computed at (a number that database triggers
//! bump on every change a page or an API can show, migration 0007). The
//! rendered-response cache (`page_cache`) and the search-result cache
//! (`search_cache`) both keep their entries here.
//!
//! Generations only grow: the first entry stored for a newer generation
//! drops every older one (they could never be served again), and an answer
//! computed at an older generation than the newest stored is not kept (a
//! read that began before a write and finished after it). Memory is bounded
//! by what each entry says it costs; the oldest entries make room.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// What an entry costs the cache's budget, in bytes (an estimate that
/// includes the copies and bookkeeping the entry brings).
pub trait Charge {
    fn charge(&self) -> usize;
}

struct Inner<V> {
    /// The newest generation stored; every entry belongs to it.
    generation: i64,
    entries: HashMap<String, Arc<V>>,
    /// Insertion order, for evicting the oldest when over budget.
    order: VecDeque<String>,
    bytes: usize,
}

impl<V> Inner<V> {
    fn empty(generation: i64) -> Self {
        Self {
            generation,
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        }
    }
}

pub struct GenerationCache<V> {
    max_bytes: usize,
    inner: Mutex<Inner<V>>,
}

impl<V: Charge> GenerationCache<V> {
    /// A cache of at most `max_bytes`; 0 turns it off.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Inner::empty(0)),
        }
    }

    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// The entry of `key` computed at `generation`.
    pub fn get(&self, key: &str, generation: i64) -> Option<Arc<V>> {
        self.get_if(key, generation, |_| true)
    }

    /// The entry of `key` computed at `generation`, when `serve` says it
    /// may be served (an entry with an age of its own, say).
    pub fn get_if(&self, key: &str, generation: i64, serve: impl FnOnce(&V) -> bool) -> Option<Arc<V>> {
        let inner = self.inner.lock().ok()?;
        if inner.generation != generation {
            return None;
        }
        let entry = inner.entries.get(key)?;
        serve(entry).then(|| Arc::clone(entry))
    }

    /// Keeps `value` as the entry of `key` at `generation`, unless it would
    /// take more than the whole budget or a newer generation is stored.
    pub fn put(&self, key: String, value: Arc<V>, generation: i64) {
        let charge = value.charge() + key.len();
        if charge > self.max_bytes {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if generation < inner.generation {
            return;
        }
        if generation > inner.generation {
            *inner = Inner::empty(generation);
        }
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.charge() + key.len();
            inner.order.retain(|k| k != &key);
        }
        while inner.bytes + charge > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(old) = inner.entries.remove(&oldest) {
                inner.bytes -= old.charge() + oldest.len();
            }
        }
        inner.bytes += charge;
        inner.order.push_back(key.clone());
        inner.entries.insert(key, value);
    }

    /// Bytes charged now, and entries (tests).
    #[cfg(test)]
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap();
        assert_eq!(inner.order.len(), inner.entries.len());
        (inner.bytes, inner.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);

    impl Charge for Blob {
        fn charge(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn entries_belong_to_their_generation() {
        let cache = GenerationCache::new(1024);
        cache.put("a".into(), Arc::new(Blob(1)), 1);
        assert!(cache.get("a", 1).is_some());
        assert!(cache.get("a", 2).is_none(), "a newer generation misses");
        cache.put("b".into(), Arc::new(Blob(1)), 2);
        assert!(cache.get("a", 1).is_none(), "older generations were dropped");
        cache.put("c".into(), Arc::new(Blob(1)), 1);
        assert!(
            cache.get("c", 1).is_none() && cache.get("c", 2).is_none(),
            "an answer computed before the newest write is not kept"
        );
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_make_room() {
        let cache = GenerationCache::new(24);
        for key in ["a", "b", "c"] {
            cache.put(key.into(), Arc::new(Blob(8)), 1);
        }
        assert!(cache.get("a", 1).is_none(), "the oldest made room");
        assert!(cache.get("b", 1).is_some() && cache.get("c", 1).is_some());
        cache.put("d".into(), Arc::new(Blob(24)), 1);
        assert!(cache.get("d", 1).is_none(), "larger than the whole cache");
        cache.put("c".into(), Arc::new(Blob(3)), 1);
        let (bytes, entries) = cache.usage();
        assert_eq!(
            (bytes, entries),
            (9 + 4, 2),
            "a replaced entry is charged once, with its key"
        );
    }

    #[test]
    fn a_cache_of_nothing_keeps_nothing() {
        let cache = GenerationCache::new(0);
        assert!(!cache.enabled());
        cache.put("a".into(), Arc::new(Blob(0)), 1);
        assert!(cache.get("a", 1).is_none());
    }
}
