//! Result files, through the `object_store` crate: the local filesystem by default, an
//! S3-compatible bucket when scaled out. Keys look like `tasks/<task id>/0.mp4`.

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};
use std::ops::Range;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object storage: {0}")]
    Storage(#[from] object_store::Error),
    #[error("invalid object key `{0}`")]
    BadKey(String),
    /// The stream being stored failed (e.g. an upstream download broke off).
    #[error("source: {0}")]
    Source(String),
}

/// An object found by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
    /// When it was last written, Unix ms.
    pub modified_ms: i64,
}

/// How an S3-compatible service says it has no room, in an error's text: `507 Insufficient
/// Storage` (MinIO with full drives, `XMinioStorageFull`; the status alone is kept, since
/// object_store drops the body of a server error), a bucket or user quota (`QuotaExceeded`
/// from Ceph's RGW, `XMinioAdminBucketQuotaExceeded` from MinIO). object_store keeps the
/// status of its request errors private, so the text is what there is to read.
const S3_FULL: [&str; 4] = [
    "507 Insufficient Storage",
    "XMinioStorageFull",
    "QuotaExceeded",
    "XMinioAdminBucketQuotaExceeded",
];

impl BlobError {
    /// A write refused for want of room: a full disk (`ENOSPC`) or a disk quota (`EDQUOT`), or
    /// an S3-compatible service's full drives or quota ([`S3_FULL`]), found anywhere in the
    /// error's chain of sources.
    pub fn is_storage_full(&self) -> bool {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ) {
                    return true;
                }
            }
            let text = e.to_string();
            if S3_FULL.iter().any(|sign| text.contains(sign)) {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// An object being read: its total size, the byte range returned and the bytes themselves.
pub struct BlobRead {
    pub total_size: u64,
    pub range: Range<u64>,
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

fn storage_error(e: std::io::Error) -> BlobError {
    BlobError::Storage(object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    })
}

/// Reads a local file, or a range of it, in [`LOCAL_READ_CHUNK`]s; `None` when it is missing.
/// A range is cut at the file's end, and one starting past it is an error, as object_store
/// has them.
async fn read_local(
    local: &LocalFileSystem,
    path: &ObjectPath,
    range: Option<Range<u64>>,
) -> Result<Option<BlobRead>, BlobError> {
    use futures::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let file_path = local.path_to_filesystem(path)?;
    let mut file = match tokio::fs::File::open(&file_path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage_error(e)),
    };
    let meta = file.metadata().await.map_err(storage_error)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let total_size = meta.len();
    let range = match range {
        None => 0..total_size,
        Some(r) if r.start < r.end && r.start < total_size => r.start..r.end.min(total_size),
        Some(r) => {
            return Err(storage_error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("range {r:?} is outside a file of {total_size} bytes"),
            )))
        }
    };
    file.seek(std::io::SeekFrom::Start(range.start))
        .await
        .map_err(storage_error)?;
    let body = file.take(range.end - range.start);
    let stream = tokio_util::io::ReaderStream::with_capacity(body, LOCAL_READ_CHUNK)
        .map(|chunk| {
            chunk.map_err(|e| object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })
        })
        .boxed();
    Ok(Some(BlobRead {
        total_size,
        range,
        stream,
    }))
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, R2, moto…). Credentials and region left out
/// here come from the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:9000` for a local MinIO; AWS's own endpoint when absent.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (MinIO, moto
    /// and most self-hosted services need it).
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow a plain-http endpoint (a local test server).
    pub allow_http: bool,
}

/// Retries of a failed S3 request (server errors, throttling, timeouts): a few, within a few
/// seconds. object_store's default (ten, for up to three minutes) would hold a submit that
/// stores a reference copy, or an upload, for minutes when the service is down or full
/// (`507`, a server error, is retried too); the caller is better told to retry later, and a
/// worker retries its attempt on its own schedule.
const S3_RETRIES: object_store::RetryConfig = object_store::RetryConfig {
    backoff: object_store::BackoffConfig {
        init_backoff: std::time::Duration::from_millis(100),
        max_backoff: std::time::Duration::from_secs(2),
        base: 2.0,
    },
    max_retries: 4,
    retry_timeout: std::time::Duration::from_secs(10),
};

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// The directory of a local-disk store, whose writes are flushed to disk before `put`
    /// returns (object_store renames its staging file without syncing it).
    local_root: Option<std::path::PathBuf>,
    /// The same local store, for reading files directly (see [`LOCAL_READ_CHUNK`]).
    local: Option<Arc<LocalFileSystem>>,
}

/// How much of a local file one read takes. object_store's local reader hands each 8 KiB to
/// the blocking pool on its own, a thread hop per 8 KiB: a 50 MB video took 6,400 of them and
/// was served at a quarter of nginx's speed. Read directly, it takes 200.
const LOCAL_READ_CHUNK: usize = 256 * 1024;

impl BlobStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            local_root: None,
            local: None,
        }
    }

    /// Files under `dir`, created if missing.
    pub fn local(dir: &std::path::Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(storage_error)?;
        let local = Arc::new(LocalFileSystem::new_with_prefix(dir)?);
        let mut store = Self::new(local.clone());
        store.local_root = Some(dir.to_path_buf());
        store.local = Some(local);
        Ok(store)
    }

    /// Objects in an S3-compatible bucket.
    pub fn s3(config: &S3Config) -> Result<Self, BlobError> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_allow_http(config.allow_http)
            .with_retry(S3_RETRIES);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        Ok(Self::new(Arc::new(builder.build()?)))
    }

    /// Whether the storage answers (for readiness checks): a listing of a prefix that need not
    /// exist. (A HEAD of a missing key cannot tell a missing object from a missing bucket.)
    pub async fn ping(&self) -> Result<(), BlobError> {
        let prefix = ObjectPath::from("seedgate-readiness");
        self.inner.list_with_delimiter(Some(&prefix)).await?;
        Ok(())
    }

    fn path(key: &str) -> Result<ObjectPath, BlobError> {
        // Parsing (not `from`) refuses `..`, empty segments and other traversal tricks.
        ObjectPath::parse(key).map_err(|_| BlobError::BadKey(key.to_string()))
    }

    /// Stores an object. On local disk the file and its directory are synced before this
    /// returns, so a task marked completed afterwards never points at a file a power loss ate.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let path = Self::path(key)?;
        self.inner.put(&path, PutPayload::from(bytes)).await?;
        self.sync_local(&path).await
    }

    /// Stores an object from a stream of chunks (an upstream download) without holding it all
    /// in memory; returns its size. A broken stream aborts the upload and leaves no object.
    pub async fn put_stream<S, E>(&self, key: &str, mut chunks: S) -> Result<u64, BlobError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        use futures::StreamExt;
        let path = Self::path(key)?;
        let upload = self.inner.put_multipart(&path).await?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(BlobError::Source(e.to_string()));
                }
            };
            // Bounded buffering: at most a few parts in flight at once.
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        writer.finish().await?;
        self.sync_local(&path).await?;
        Ok(size)
    }

    /// On local disk, flushes a written file and its directory.
    async fn sync_local(&self, path: &ObjectPath) -> Result<(), BlobError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let file = root.join(path.as_ref());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            if let Some(dir) = file.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| storage_error(std::io::Error::other(e)))?
        .map_err(storage_error)
    }

    /// Deletes an object; deleting a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.inner.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads an object, or a range of it; `None` when there is no such object.
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobRead>, BlobError> {
        let path = match Self::path(key) {
            Ok(p) => p,
            Err(_) => return Ok(None),
        };
        if let Some(local) = &self.local {
            return read_local(local, &path, range).await;
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        match self.inner.get_opts(&path, options).await {
            Ok(result) => Ok(Some(BlobRead {
                total_size: result.meta.size,
                range: result.range.clone(),
                stream: result.into_stream(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under `prefix` (a folder such as `refs`), read as the listing goes:
    /// its key, size and last change (Unix ms). For retention's janitor and its disk figures.
    pub fn list(&self, prefix: &str) -> BoxStream<'static, Result<BlobMeta, BlobError>> {
        use futures::StreamExt;
        let prefix = ObjectPath::from(prefix);
        self.inner
            .list(Some(&prefix))
            .map(|meta| {
                let meta = meta?;
                Ok(BlobMeta {
                    key: meta.location.to_string(),
                    size: meta.size,
                    modified_ms: meta.last_modified.timestamp_millis(),
                })
            })
            .boxed()
    }

    /// The size of an object, `None` when absent.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let path = match Self::path(key) {
            Ok(p) => p,
            Err(_) => return Ok(None),
        };
        match self.inner.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
