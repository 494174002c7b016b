//! The catalogue generation, read without a round trip through a worker
//! thread.
//!
//! Every cached response is checked against the generation before it is
//! served, so that a write from any process shows at once (see
//! `server::page_cache`). Through the pool that check is a query sent to
//! sqlx's SQLite worker thread and its answer sent back: two thread wake-ups
//! per request, most of the cost of serving a cached page. Here the same
//! single-row `SELECT` runs on a read-only connection of its own, prepared
//! once and stepped on the calling thread: SQLite reads the row from its
//! page cache and the WAL index (shared memory) in about a microsecond, and
//! a write by any connection of any process is visible to the next step,
//! because every step starts a new read transaction.
//!
//! This is SQLite's own C API (through `libsqlite3-sys`, the library sqlx
//! itself links), not a second database library: the few calls are wrapped
//! here, and anything unexpected makes the caller fall back to the pool.
//!
//! Even that step takes two `fcntl` lock calls (a WAL reader's read mark),
//! so most requests do not make it: [`WalStamp`] reads the header of the
//! WAL index, which every commit of every process rewrites, from shared
//! memory, with no system call at all; only when it changed is the
//! generation read again.

use std::ffi::{CStr, CString, c_int};
use std::path::Path;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use libsqlite3_sys as ffi;

/// The WAL-index header in `<database>-shm`, which SQLite keeps in shared
/// memory for every connection of every process (its format is documented:
/// <https://www.sqlite.org/walformat.html>, "The WAL-Index Header"). Every
/// write transaction that commits rewrites it before the commit returns:
/// `iChange` counts transactions, `mxFrame` is the last frame, the salts
/// change when the WAL restarts. SQLite writes the header twice, the first
/// copy last; a reader that finds both equal has read a whole one (SQLite's
/// own lock-free read, `walIndexTryHdr`).
pub struct WalStamp {
    map: memmap2::Mmap,
    /// The `-shm` file, never closed. POSIX advisory locks belong to the
    /// process and the file, not to the descriptor: closing *any*
    /// descriptor of a file drops every lock the process holds on it,
    /// SQLite's own included (its "DMS" lock, which tells other processes
    /// that the WAL index is in use, and its readers' marks). Closing this
    /// one after mapping made the next process to open the database think it
    /// was alone and truncate the WAL index under us: the writer died of
    /// SIGBUS (seen twice, a `demo-data` run and a Python `sqlite3` reader).
    /// So the descriptor lives as long as the process: one per database
    /// opened, which a server does once.
    _file: std::mem::ManuallyDrop<std::fs::File>,
}

impl std::fmt::Debug for WalStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WalStamp")
    }
}

/// A snapshot of the header: equal stamps, no commit in between.
pub type Stamp = [u32; 12];

/// Two 48-byte copies of the header come first.
const HEADER_WORDS: usize = 12;

impl WalStamp {
    /// Maps the WAL index of the database at `path`; `None` without one (not
    /// in WAL mode, or in memory).
    pub fn open(path: &Path) -> Option<Self> {
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        // From here on the descriptor is never closed (see `_file`), on
        // every path: returning early must not close it either.
        let file = std::mem::ManuallyDrop::new(std::fs::File::open(shm).ok()?);
        if file.metadata().ok()?.len() < (2 * HEADER_WORDS * 4) as u64 {
            return None;
        }
        // SAFETY: the mapping is read-only and only ever read through
        // atomic loads (`read`), because other processes write it.
        let map = unsafe { memmap2::MmapOptions::new().len(2 * HEADER_WORDS * 4).map(&*file) }.ok()?;
        let stamp = Self { map, _file: file };
        stamp.read().is_some().then_some(stamp)
    }

    fn word(&self, index: usize) -> u32 {
        let base = self.map.as_ptr().cast::<AtomicU32>();
        // SAFETY: the mapping is page-aligned and 96 bytes long, so every
        // index below 24 is an aligned u32 inside it; AtomicU32 has the
        // layout of u32, and shared memory is read with atomic loads.
        unsafe { (*base.add(index)).load(Ordering::Relaxed) }
    }

    /// The header, or `None` while a writer is between its two copies (or
    /// before SQLite initialised it): the caller then asks SQLite itself.
    pub fn read(&self) -> Option<Stamp> {
        let mut first = [0u32; HEADER_WORDS];
        let mut second = [0u32; HEADER_WORDS];
        for (i, word) in first.iter_mut().enumerate() {
            *word = self.word(i);
        }
        fence(Ordering::Acquire);
        for (i, word) in second.iter_mut().enumerate() {
            *word = self.word(HEADER_WORDS + i);
        }
        // isInit is the first byte of the fourth word (little- or big-endian
        // alike, it is nonzero once SQLite has written the header).
        (first == second && first[3] != 0).then_some(first)
    }
}

const QUERY: &CStr = c"SELECT generation FROM catalog_counts WHERE id = 1";

/// An open connection and its prepared statement.
struct Handles {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
}

// SAFETY: the connection is opened with SQLITE_OPEN_FULLMUTEX (serialized
// mode), and the handles are only ever used behind the `Mutex` below, one
// thread at a time; SQLite connections may move between threads.
unsafe impl Send for Handles {}

/// A read-only connection that answers the catalogue generation.
pub struct GenerationProbe {
    /// `None` once closed.
    handles: Mutex<Option<Handles>>,
}

impl std::fmt::Debug for GenerationProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GenerationProbe")
    }
}

impl GenerationProbe {
    /// Opens `path` read-only and prepares the query; `None` if SQLite says
    /// no (the caller then asks the pool).
    pub fn open(path: &Path) -> Option<Self> {
        let path = CString::new(path.to_str()?).ok()?;
        let mut db = ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READONLY | ffi::SQLITE_OPEN_FULLMUTEX;
        // SAFETY: `path` is a valid NUL-terminated string and `db` a valid
        // out pointer; on failure SQLite may still allocate a handle, which
        // is closed below.
        let opened = unsafe { ffi::sqlite3_open_v2(path.as_ptr(), &mut db, flags, ptr::null()) };
        if opened != ffi::SQLITE_OK {
            // SAFETY: closing a (possibly null) handle from sqlite3_open_v2 is allowed.
            unsafe { ffi::sqlite3_close(db) };
            return None;
        }
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is open; QUERY is NUL-terminated (-1: read to the NUL).
        let prepared = unsafe { ffi::sqlite3_prepare_v2(db, QUERY.as_ptr(), -1, &mut stmt, ptr::null_mut()) };
        if prepared != ffi::SQLITE_OK || stmt.is_null() {
            // SAFETY: `stmt` is null or valid; `db` is open and closed once.
            unsafe {
                ffi::sqlite3_finalize(stmt);
                ffi::sqlite3_close(db);
            }
            return None;
        }
        // A writer's commit never blocks a WAL reader; a short wait covers
        // the rare moments SQLite itself asks for one (WAL recovery).
        // SAFETY: `db` is open.
        unsafe { ffi::sqlite3_busy_timeout(db, 50) };
        let probe = Self {
            handles: Mutex::new(Some(Handles { db, stmt })),
        };
        probe.generation().is_some().then_some(probe)
    }

    /// The current generation, read in a fresh read transaction; `None` when
    /// SQLite reports anything but one row (the caller asks the pool).
    pub fn generation(&self) -> Option<i64> {
        let guard = self.handles.lock().ok()?;
        let handles = guard.as_ref()?;
        // SAFETY: `stmt` is a valid prepared statement of `db`, used by one
        // thread at a time (the lock). It is reset after every use, so each
        // step begins a new read transaction and sees every commit so far.
        unsafe {
            let stepped: c_int = ffi::sqlite3_step(handles.stmt);
            let value = (stepped == ffi::SQLITE_ROW).then(|| ffi::sqlite3_column_int64(handles.stmt, 0));
            ffi::sqlite3_reset(handles.stmt);
            value
        }
    }
}

impl GenerationProbe {
    /// Closes the connection (the pool's last connection can then fold the
    /// WAL into the database file as it closes); later reads answer `None`.
    pub fn close(&self) {
        if let Ok(mut guard) = self.handles.lock()
            && let Some(handles) = guard.take()
        {
            // SAFETY: both handles are valid, and taken out of the lock:
            // nothing can use them again.
            unsafe {
                ffi::sqlite3_finalize(handles.stmt);
                ffi::sqlite3_close(handles.db);
            }
        }
    }
}

impl Drop for GenerationProbe {
    fn drop(&mut self) {
        self.close();
    }
}

/// The catalogue generation as cheaply as the file allows: the last value
/// while the WAL stamp says nothing was committed since it was read, else a
/// fresh read on the probe's connection.
pub struct Freshness {
    probe: GenerationProbe,
    stamp: WalStamp,
    /// The generation last read, and the stamp read just before it.
    known: Mutex<Option<(Stamp, i64)>>,
}

impl std::fmt::Debug for Freshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Freshness")
    }
}

impl Freshness {
    /// Both halves for the database at `path` (after its migrations), or
    /// `None` when either is missing: the caller then asks the pool.
    pub fn open(path: &Path) -> Option<Self> {
        Some(Self {
            probe: GenerationProbe::open(path)?,
            stamp: WalStamp::open(path)?,
            known: Mutex::new(None),
        })
    }

    /// The current generation, or `None` when SQLite would not say (the
    /// caller asks the pool). The stamp is read *before* the generation: a
    /// commit in between shows as a changed stamp next time.
    pub fn generation(&self) -> Option<i64> {
        let stamp = self.stamp.read();
        if let Some(now) = stamp
            && let Ok(known) = self.known.lock()
            && let Some((seen, generation)) = *known
            && seen == now
        {
            return Some(generation);
        }
        let generation = self.probe.generation()?;
        if let Some(now) = stamp
            && let Ok(mut known) = self.known.lock()
        {
            *known = Some((now, generation));
        }
        Some(generation)
    }

    /// Closes the probe's connection (see [`GenerationProbe::close`]).
    pub fn close(&self) {
        self.probe.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::db::{Db, DbOptions};

    #[tokio::test]
    async fn sees_every_commit_of_any_connection_at_once() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("probe.db");
        let db = Db::open(&format!("sqlite://{}", path.display()), &DbOptions::pool(2))
            .await
            .unwrap();
        let probe = GenerationProbe::open(&path).expect("a probe");
        let before = probe.generation().unwrap();
        assert_eq!(before, crate::server::db::catalog::generation(&db).await.unwrap());
        // A write through the pool (another connection, as another process's would be).
        let mut tx = db.begin_write().await.unwrap();
        tx.ensure_project("Probe-Me", "probe-me", 1).await.unwrap();
        tx.commit().await.unwrap();
        assert!(probe.generation().unwrap() > before, "the very next read sees it");
        assert_eq!(
            probe.generation(),
            Some(crate::server::db::catalog::generation(&db).await.unwrap())
        );
    }

    #[tokio::test]
    async fn closing_the_database_leaves_no_wal_behind() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("closed.db");
        let db = Db::open(&format!("sqlite://{}", path.display()), &DbOptions::pool(2))
            .await
            .unwrap();
        let mut tx = db.begin_write().await.unwrap();
        tx.ensure_project("Kept", "kept", 1).await.unwrap();
        tx.commit().await.unwrap();
        db.close().await;
        // Everything is in the database file itself: a copy of it alone is whole.
        assert!(std::fs::metadata(dir.path().join("closed.db-wal")).map_or(true, |m| m.len() == 0));
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).unwrap();
        let reopened = Db::open(&format!("sqlite://{}", copy.display()), &DbOptions::pool(1))
            .await
            .unwrap();
        assert!(
            crate::server::db::catalog::project(&reopened, "kept")
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn the_wal_stamp_changes_with_every_commit_and_only_then() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("stamp.db");
        let db = Db::open(&format!("sqlite://{}", path.display()), &DbOptions::pool(2))
            .await
            .unwrap();
        let stamp = WalStamp::open(&path).expect("a WAL index");
        let mut before = stamp.read().unwrap();
        crate::server::db::catalog::stats(&db).await.unwrap();
        assert_eq!(stamp.read().unwrap(), before, "reads change nothing");
        for i in 0..3 {
            let mut tx = db.begin_write().await.unwrap();
            tx.ensure_project(&format!("Stamped-{i}"), &format!("stamped-{i}"), 1)
                .await
                .unwrap();
            assert_eq!(stamp.read().unwrap(), before, "nothing committed yet");
            tx.commit().await.unwrap();
            let after = stamp.read().unwrap();
            assert_ne!(after, before, "the commit is visible at once");
            before = after;
        }
        assert!(WalStamp::open(&dir.path().join("absent.db")).is_none());
    }

    #[tokio::test]
    async fn freshness_follows_commits_and_remembers_between_them() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("fresh.db");
        let db = Db::open(&format!("sqlite://{}", path.display()), &DbOptions::pool(2))
            .await
            .unwrap();
        let freshness = Freshness::open(&path).expect("both halves");
        let before = freshness.generation().unwrap();
        assert_eq!(freshness.generation(), Some(before), "nothing committed: the same");
        let mut tx = db.begin_write().await.unwrap();
        tx.ensure_project("Fresh", "fresh", 1).await.unwrap();
        tx.commit().await.unwrap();
        let after = freshness.generation().unwrap();
        assert!(after > before, "the very next read sees the commit");
        assert_eq!(after, crate::server::db::catalog::generation(&db).await.unwrap());
    }

    #[test]
    fn a_missing_database_gives_no_probe() {
        let dir = tempfile::TempDir::new().unwrap();
        assert!(GenerationProbe::open(&dir.path().join("absent.db")).is_none());
        assert!(Freshness::open(&dir.path().join("absent.db")).is_none());
    }
}
