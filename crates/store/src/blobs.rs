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

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// The directory of a local-disk store, whose writes are flushed to disk before `put`
    /// returns (object_store renames its staging file without syncing it).
    local_root: Option<std::path::PathBuf>,
}

impl BlobStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            local_root: None,
        }
    }

    /// Files under `dir`, created if missing.
    pub fn local(dir: &std::path::Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(storage_error)?;
        let mut store = Self::new(Arc::new(LocalFileSystem::new_with_prefix(dir)?));
        store.local_root = Some(dir.to_path_buf());
        Ok(store)
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
        if let Some(root) = &self.local_root {
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
            .map_err(storage_error)?;
        }
        Ok(())
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
