use std::process::ExitCode;

// mimalloc: per-thread heaps with free lists local to each page, where
// glibc's malloc serialises the runtime's workers and SQLite's connection
// threads on a few arena locks (make bench: the uncached project page).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before the runtime starts any thread.
    cheeseshop::server::limit_malloc_arenas();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(cheeseshop::server::cli::run()),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
