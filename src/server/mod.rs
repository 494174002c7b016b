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

/// mimalloc's `mi_option_purge_delay`: its index in the `mi_option_t` enum
/// of the v3 sources that libmimalloc-sys bundles (`mimalloc.h`), for which
/// the crate names no constant. A test checks it is the option whose
/// default is v3's purge delay (1,000 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory settings made first thing in `main`, before any other thread
/// exists.
///
/// - The allocator is mimalloc (`main.rs`): a rendered page allocates
///   hundreds of small strings, and glibc's malloc and free took a fifth
///   of its CPU. With mimalloc the uncached project page of the 1M
///   catalogue served more requests per second in every pair measured
///   side by side with glibc (the notes of
///   bench/results/2026-11-27-mimalloc.md list them).
/// - mimalloc returns freed memory to the system at once unless
///   `MIMALLOC_PURGE_DELAY` is set: v3 keeps it for a second by default,
///   and the bench's dataset suite then peaked at 84 MiB RSS (its target
///   is 60 MiB); purging at once, 57 MiB
///   (bench/results/2026-11-27-mimalloc-dataset.md).
/// - Transparent huge pages off for this process: with THP the kernel may
///   back an allocator's areas with whole 2 MiB pages, memory that a
///   server of many small allocations never uses (mimalloc, tried before
///   this setting, doubled the bench's peak RSS).
/// - glibc's malloc, which SQLite's C code still uses, capped at two
///   arenas unless `MALLOC_ARENA_MAX` is set: it gives threads their own
///   arenas (up to eight per CPU), sqlx runs every SQLite connection on a
///   thread of its own, and under a search burst each grew its own arena
///   (~30 MiB of peak memory at 100k projects, make bench).
pub fn tune_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options (a plain store); no other
        // thread exists yet to read it meanwhile (see `main`).
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
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

#[cfg(test)]
mod memory_tests {
    use super::MI_OPTION_PURGE_DELAY;

    #[test]
    fn the_purge_delay_index_names_mimallocs_purge_delay() {
        // Its v3 default; an upgrade that moved the enum fails here rather
        // than set some other option to zero.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads one option of the linked mimalloc.
            let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
            assert_eq!(delay, 1000);
        }
    }
}
