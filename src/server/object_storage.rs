//! Package files in an S3-compatible object store (AWS S3, MinIO, Ceph, R2,
//! GCS's S3 API), through the `object_store` crate: what several instances
//! share when they serve one index (`CHEESESHOP_STORAGE_URL=s3://bucket/prefix`).
//!
//! Uploads are staged on local disk while they are received and hashed
//! (the key is the content's BLAKE2b-256, known only at the end, and the
//! archive is checked before anything is published); `put` then streams the
//! staged file to the store, in parts of `PART_SIZE` for a large file (S3's
//! multipart upload: no part is visible until the upload completes, and an
//! aborted one leaves nothing). Reads are a `HEAD` for the size and a ranged
//! `GET` streamed to the client.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer as _};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt as _;

use super::storage::{Object, ObjectContent, Storage, StorageFuture, valid_key};

/// Files up to this size go in one `PUT`; larger ones in parts of this
/// size (S3 wants at least 5 MiB per part but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one file in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// How long a presigned download URL is valid (`CHEESESHOP_STORAGE_REDIRECT`).
const PRESIGNED_FOR: Duration = Duration::from_secs(300);

/// The bucket and key prefix of `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    /// `s3://bucket` or `s3://bucket/some/prefix` (slashes around the
    /// prefix ignored); `None` for anything else.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3 to 63 lower-case letters, digits,
        // dots and hyphens.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        let prefix = prefix.trim_matches('/');
        let prefix_ok = prefix.len() <= 512
            && prefix.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        (bucket_ok && (prefix.is_empty() || prefix_ok)).then(|| Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// Package files in an S3 bucket, under a prefix.
pub struct ObjectStorage {
    store: Arc<AmazonS3>,
    prefix: String,
    staging: PathBuf,
    /// Downloads answer with a redirect to a presigned URL.
    redirect: bool,
}

impl ObjectStorage {
    /// The bucket of `location`, with the endpoint, region, credentials and
    /// addressing style of the standard `AWS_*` variables (`AWS_ENDPOINT`,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`,
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`; path-style requests unless told
    /// otherwise, as self-hosted stores want). Uploads are staged in
    /// `staging` (created).
    pub fn open(location: &S3Location, staging: impl Into<PathBuf>, redirect: bool) -> io::Result<Self> {
        install_crypto_provider();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            builder = builder.with_region("us-east-1");
        }
        let store = builder
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        Self::with_store(Arc::new(store), &location.prefix, staging, redirect)
    }

    /// Over a store built elsewhere (tests).
    pub fn with_store(
        store: Arc<AmazonS3>,
        prefix: &str,
        staging: impl Into<PathBuf>,
        redirect: bool,
    ) -> io::Result<Self> {
        install_crypto_provider();
        let staging = staging.into();
        std::fs::create_dir_all(&staging)?;
        Ok(Self {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            staging,
            redirect,
        })
    }

    /// The object's path in the bucket, for a key of `file_key`'s shape
    /// (optionally with `.metadata`); anything else is refused.
    fn path(&self, key: &str) -> io::Result<ObjectPath> {
        let base = key.strip_suffix(".metadata").unwrap_or(key);
        if !valid_key(base) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid storage key"));
        }
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(full).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    }

    /// Sends the staged file: one `PUT` when small, else a multipart upload
    /// with a few parts in flight, aborted on any error.
    async fn upload(&self, path: &ObjectPath, staged: &Path) -> io::Result<()> {
        let mut file = tokio::fs::File::open(staged).await?;
        let size = file.metadata().await?.len();
        if size <= PART_SIZE as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await?;
            self.store
                .put(path, PutPayload::from(bytes))
                .await
                .map_err(store_error)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(path).await.map_err(store_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buffer = vec![0u8; 1024 * 1024];
        let sent: io::Result<()> = async {
            loop {
                let n = file.read(&mut buffer).await?;
                if n == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(store_error)?;
                writer.write(&buffer[..n]);
            }
        }
        .await;
        match sent {
            Ok(()) => writer.finish().await.map(|_| ()).map_err(store_error),
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%abort, "could not abort a multipart upload");
                }
                Err(error)
            }
        }
    }
}

/// rustls (under the store's HTTP client) needs a process-wide crypto
/// provider: ring, as sqlx's TLS uses. Installing it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An object store's error as I/O: "not found" stays recognisable, and
/// the store's message (never a credential) is kept.
fn store_error(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error.to_string()),
        other => io::Error::other(other.to_string()),
    }
}

impl Storage for ObjectStorage {
    fn staging_dir(&self) -> &Path {
        &self.staging
    }

    fn put<'a>(&'a self, key: &'a str, staged: &'a Path) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            self.upload(&path, staged).await?;
            // The bytes are in the store; the staged copy is not needed.
            if let Err(error) = tokio::fs::remove_file(staged).await
                && error.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(%error, "could not remove a staged upload");
            }
            Ok(())
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<Object>> {
        Box::pin(async move {
            let Ok(path) = self.path(key) else {
                return Ok(None);
            };
            let meta = match self.store.head(&path).await {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(error) => return Err(store_error(error)),
            };
            Ok(Some(Object {
                size: meta.size,
                content: Box::new(StoredContent {
                    store: self.store.clone(),
                    path,
                    size: meta.size,
                }),
            }))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            match self.store.delete(&self.path(key)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(store_error(error)),
            }
        })
    }

    fn presigned_url<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<String>> {
        Box::pin(async move {
            if !self.redirect {
                return Ok(None);
            }
            let path = self.path(key)?;
            let url = self
                .store
                .signed_url(Method::GET, &path, PRESIGNED_FOR)
                .await
                .map_err(store_error)?;
            Ok(Some(url.to_string()))
        })
    }

    fn check<'a>(&'a self) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            // A listing of at most one key under the prefix: the bucket
            // exists and the credentials may read it.
            let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
            let mut listing = self.store.list(prefix.as_ref());
            match listing.next().await {
                None | Some(Ok(_)) => Ok(()),
                Some(Err(error)) => Err(store_error(error)),
            }
        })
    }
}

/// An object's bytes, fetched when the response needs them.
struct StoredContent {
    store: Arc<AmazonS3>,
    path: ObjectPath,
    size: u64,
}

impl ObjectContent for StoredContent {
    fn body(self: Box<Self>, range: Option<Range<u64>>) -> StorageFuture<'static, Body> {
        Box::pin(async move {
            let range = range.unwrap_or(0..self.size);
            if range.is_empty() {
                return Ok(Body::empty());
            }
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..GetOptions::default()
            };
            let result = self.store.get_opts(&self.path, options).await.map_err(store_error)?;
            Ok(Body::from_stream(
                result.into_stream().map(|chunk| chunk.map_err(store_error)),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            S3Location::parse("s3://packages/prod/files/"),
            Some(S3Location {
                bucket: "packages".into(),
                prefix: "prod/files".into()
            })
        );
        assert_eq!(
            S3Location::parse("s3://my.bucket-1"),
            Some(S3Location {
                bucket: "my.bucket-1".into(),
                prefix: String::new()
            })
        );
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://b_u",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "s3://bucket/a b",
            "gs://bucket",
            "bucket",
        ] {
            assert_eq!(S3Location::parse(bad), None, "{bad}");
        }
    }
}
