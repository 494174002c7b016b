//! Counters of the pull-through cache, per instance since it started, in
//! Prometheus' text format at `/_metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;

#[derive(Debug, Default)]
pub struct Metrics {
    /// Link lists answered from the cache while fresh.
    pub list_hits: AtomicU64,
    /// Link lists (or 404s) fetched from an upstream.
    pub list_fetches: AtomicU64,
    /// Link lists the upstream said were not modified.
    pub list_revalidated: AtomicU64,
    /// Link lists served stale because the upstream failed or was slow.
    pub list_stale: AtomicU64,
    /// Files served from storage.
    pub file_hits: AtomicU64,
    /// Files fetched from an upstream.
    pub file_fetches: AtomicU64,
    /// Fetches that failed (upstream error, or a hash that did not match).
    pub file_failures: AtomicU64,
    /// Upstream errors and timeouts, lists and files.
    pub upstream_errors: AtomicU64,
    /// Bytes read from upstreams.
    pub bytes_fetched: AtomicU64,
    /// Bytes of files served from storage instead of fetched again.
    pub bytes_saved: AtomicU64,
}

impl Metrics {
    pub fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A file answered from storage (its bytes count as saved on a GET).
    pub fn served_from_cache(&self, method: &Method, size: i64) {
        self.count(&self.file_hits);
        if method == Method::GET {
            self.add(&self.bytes_saved, u64::try_from(size).unwrap_or(0));
        }
    }

    /// The counters in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut family = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "cheeseshop_upstream_lists_total",
            "Upstream link lists asked for, by how they were answered.",
            &[
                ("{outcome=\"hit\"}", get(&self.list_hits)),
                ("{outcome=\"fetched\"}", get(&self.list_fetches)),
                ("{outcome=\"revalidated\"}", get(&self.list_revalidated)),
                ("{outcome=\"stale\"}", get(&self.list_stale)),
            ],
        );
        family(
            "cheeseshop_upstream_files_total",
            "Upstream files asked for, by how they were answered.",
            &[
                ("{outcome=\"hit\"}", get(&self.file_hits)),
                ("{outcome=\"fetched\"}", get(&self.file_fetches)),
                ("{outcome=\"failed\"}", get(&self.file_failures)),
            ],
        );
        family(
            "cheeseshop_upstream_errors_total",
            "Upstream errors and timeouts.",
            &[("", get(&self.upstream_errors))],
        );
        family(
            "cheeseshop_upstream_fetched_bytes_total",
            "Bytes read from upstream indexes.",
            &[("", get(&self.bytes_fetched))],
        );
        family(
            "cheeseshop_upstream_saved_bytes_total",
            "Bytes of upstream files served from storage instead of fetched again.",
            &[("", get(&self.bytes_saved))],
        );
        out
    }
}
