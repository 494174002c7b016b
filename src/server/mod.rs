//! Everything that only exists on the server: configuration, the database
//! (all SQL lives under `db`), the HTTP router, and the command line.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod feeds;
pub mod generation_cache;
pub mod http;
pub mod import;
pub mod index;
pub mod object_storage;
pub mod page_cache;
pub mod quarantine;
pub mod render;
pub mod search_cache;
pub mod state;
pub mod storage;
pub mod trove;
pub mod upstream;

/// Memory settings made first thing in `main`, before any other thread
/// exists.
///
/// - Transparent huge pages off for this process: with THP the kernel may
///   back an allocator's areas with whole 2 MiB pages, memory that a
///   server of many small allocations never uses (with mimalloc, tried as
///   the global allocator, the bench's peak RSS doubled).
/// - glibc's malloc capped at two arenas unless `MALLOC_ARENA_MAX` is set:
///   it gives threads their own arenas (up to eight per CPU), sqlx runs
///   every SQLite connection on a thread of its own, and under a search
///   burst each grew its own arena (~30 MiB of peak memory at 100k
///   projects, make bench).
pub fn tune_memory() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this
    // process; a failure (an old kernel) leaves THP as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
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
