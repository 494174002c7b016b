//! Everything that only exists on the server: configuration, the database
//! (all SQL lives under `db`), the HTTP router, and the command line.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod feeds;
pub mod http;
pub mod import;
pub mod index;
pub mod object_storage;
pub mod page_cache;
pub mod render;
pub mod state;
pub mod storage;
pub mod trove;

/// Caps glibc's malloc at two arenas unless `MALLOC_ARENA_MAX` is set.
///
/// glibc gives threads their own arenas (up to eight per CPU) and each keeps
/// what was freed in it. sqlx runs every SQLite connection on its own
/// thread, so under a search burst each of them grew its own arena: at
/// 100k projects this alone cost ~30 MiB of peak memory with no throughput
/// to show for it (make bench). Call it first thing in `main`, before any
/// other thread exists.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no other
        // thread exists yet to allocate concurrently.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
