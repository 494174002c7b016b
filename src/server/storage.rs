//! Where uploaded distribution files live.
//!
//! A small trait over a local directory (the default) and an S3-compatible
//! object store (`server::object_storage`), which several instances share
//! when they serve one index. Uploads are first streamed to a local
//! staging file (hashed on the way); `put` then publishes that file under
//! its key in one step, so a reader never sees half a file: the local store
//! renames within one filesystem, an object store's PUT is atomic too.

use std::future::Future;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use axum::body::Body;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;

/// An object opened for reading: its size now, its bytes when asked for
/// (a `HEAD`, a 304 or a 416 never reads them).
pub struct Object {
    pub size: u64,
    pub content: Box<dyn ObjectContent>,
}

/// The bytes of an opened object.
pub trait ObjectContent: Send {
    /// Streams `range` (or everything) of the object. `range` must lie
    /// within the object's size.
    fn body(self: Box<Self>, range: Option<Range<u64>>) -> StorageFuture<'static, Body>;
}

pub trait Storage: Send + Sync + 'static {
    /// A directory on local disk for staging uploads before `put`.
    fn staging_dir(&self) -> &Path;

    /// Publishes the staged file at `staged` under `key`, consuming it.
    fn put<'a>(&'a self, key: &'a str, staged: &'a Path) -> StorageFuture<'a, ()>;

    /// Opens the object for reading, or `None` when there is no such object.
    /// The local store opens the file once and reads size and bytes from
    /// that handle; an object store would answer with a `HEAD` here and a
    /// ranged `GET` in `ObjectContent::body`.
    fn open<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<Object>>;

    /// Removes the object (used to undo a `put` whose database write failed).
    fn delete<'a>(&'a self, key: &'a str) -> StorageFuture<'a, ()>;

    /// A URL where a client may fetch the object for a short while, when
    /// downloads are to be redirected there (`CHEESESHOP_STORAGE_REDIRECT`);
    /// `None` to serve the bytes ourselves.
    fn presigned_url<'a>(&'a self, _key: &'a str) -> StorageFuture<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether the store answers (`/_health`).
    fn check<'a>(&'a self) -> StorageFuture<'a, ()>;
}

/// The storage key of an uploaded file, as PyPI lays out its own:
/// `<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`, b2 being the BLAKE2b-256 of the
/// content. Keys are content-addressed, so a file at a key never changes.
pub fn file_key(blake2b_256: &str, filename: &str) -> String {
    format!(
        "{}/{}/{}/{filename}",
        &blake2b_256[0..2],
        &blake2b_256[2..4],
        &blake2b_256[4..]
    )
}

/// Checks a key taken from a URL: exactly the shape `file_key` produces
/// (optionally with `.metadata`), so no path can leave the store.
pub fn valid_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 2)
        && hex(parts[2], 60)
        && !parts[3].is_empty()
        && parts[3].len() <= 300
        && !parts[3].starts_with('.')
        && parts[3]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'!'))
}

/// The keys of every package file under `root` (a local store's
/// directory), in order; the staging area and anything else not shaped
/// like a key are left out. Walks with a stack, not recursion.
pub fn keys_in(root: &Path) -> io::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if entry.file_name() != ".staging" {
                    pending.push(path);
                }
            } else if kind.is_file()
                && let Ok(relative) = path.strip_prefix(root)
                && let Some(key) = relative.to_str()
                && valid_key(key.strip_suffix(".metadata").unwrap_or(key))
            {
                keys.push(key.to_owned());
            }
        }
    }
    keys.sort();
    Ok(keys)
}

/// Files in a local directory (`CHEESESHOP_STORAGE_DIR`).
pub struct LocalStorage {
    root: PathBuf,
    staging: PathBuf,
}

impl LocalStorage {
    /// Opens (creating) the store at `root`; staging lives inside it, so
    /// publishing is a rename on one filesystem.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        let staging = root.join(".staging");
        std::fs::create_dir_all(&staging)?;
        Ok(Self { root, staging })
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let base = key.strip_suffix(".metadata").unwrap_or(key);
        if !valid_key(base) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid storage key"));
        }
        Ok(self.root.join(key))
    }
}

impl Storage for LocalStorage {
    fn staging_dir(&self) -> &Path {
        &self.staging
    }

    fn put<'a>(&'a self, key: &'a str, staged: &'a Path) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            let target = self.path(key)?;
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            // The staged file was written and synced by the upload; the
            // rename makes it visible at once and whole.
            tokio::fs::rename(staged, &target).await
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<Object>> {
        Box::pin(async move {
            let Ok(path) = self.path(key) else {
                return Ok(None);
            };
            let file = match tokio::fs::File::open(&path).await {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let meta = file.metadata().await?;
            if !meta.is_file() {
                return Ok(None);
            }
            Ok(Some(Object {
                size: meta.len(),
                content: Box::new(LocalContent(file)),
            }))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn check<'a>(&'a self) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            if tokio::fs::metadata(&self.staging).await?.is_dir() {
                Ok(())
            } else {
                Err(io::Error::new(io::ErrorKind::NotFound, "the storage directory is gone"))
            }
        })
    }
}

/// How much of a local file one read takes. Each read of a tokio file is a
/// trip to the blocking pool: ReaderStream's default of 4 KiB made a 50 MB
/// download 12,000 of them (94 MB/s here); 256 KiB reads make it 200.
const READ_CHUNK: usize = 256 * 1024;

/// An open local file.
struct LocalContent(tokio::fs::File);

impl ObjectContent for LocalContent {
    fn body(self: Box<Self>, range: Option<Range<u64>>) -> StorageFuture<'static, Body> {
        Box::pin(async move {
            let mut file = self.0;
            Ok(match range {
                Some(range) => {
                    file.seek(io::SeekFrom::Start(range.start)).await?;
                    let reader = file.take(range.end.saturating_sub(range.start));
                    Body::from_stream(tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK))
                }
                None => Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let b2 = "ab".repeat(32);
        let key = file_key(&b2, "tiny_pkg-1.0-py3-none-any.whl");
        assert_eq!(key, format!("ab/ab/{}/tiny_pkg-1.0-py3-none-any.whl", &b2[4..]));
        assert!(valid_key(&key));
        assert!(!valid_key("ab/ab/../x"));
        assert!(!valid_key(&format!("ab/ab/{}/../../etc/passwd", &b2[4..])));
        assert!(!valid_key(&format!("AB/ab/{}/x.whl", &b2[4..])));
        assert!(!valid_key(&format!("ab/ab/{}/.hidden", &b2[4..])));
        assert!(!valid_key("ab/ab/cd/x.whl"));
    }
}
