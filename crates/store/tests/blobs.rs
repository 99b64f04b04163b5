//! Object storage on local disk: what `put` writes is where `get` and the disk say it is,
//! ranges are exact, and keys cannot leave the root.

use bytes::Bytes;
use futures::TryStreamExt;
use seedgate_store::BlobStore;

async fn read(
    blobs: &BlobStore,
    key: &str,
    range: Option<std::ops::Range<u64>>,
) -> Option<Vec<u8>> {
    let read = blobs.get(key, range).await.expect("get")?;
    let chunks: Vec<Bytes> = read.stream.try_collect().await.expect("stream");
    Some(chunks.concat())
}

#[tokio::test]
async fn put_get_range_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = BlobStore::local(dir.path()).expect("store");
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    blobs
        .put("tasks/t1/1/0.mp4", Bytes::from(data.clone()))
        .await
        .expect("put");
    assert_eq!(
        std::fs::read(dir.path().join("tasks/t1/1/0.mp4")).expect("on disk"),
        data
    );
    assert_eq!(
        blobs.size("tasks/t1/1/0.mp4").await.expect("size"),
        Some(10_000)
    );
    assert_eq!(
        read(&blobs, "tasks/t1/1/0.mp4", None).await,
        Some(data.clone())
    );
    assert_eq!(
        read(&blobs, "tasks/t1/1/0.mp4", Some(100..200)).await,
        Some(data[100..200].to_vec())
    );
    blobs.delete("tasks/t1/1/0.mp4").await.expect("delete");
    blobs
        .delete("tasks/t1/1/0.mp4")
        .await
        .expect("deleting twice is fine");
    assert_eq!(read(&blobs, "tasks/t1/1/0.mp4", None).await, None);
}

#[tokio::test]
async fn keys_cannot_escape_the_root() {
    let parent = tempfile::tempdir().expect("tempdir");
    std::fs::write(parent.path().join("secret.db"), b"SQLite format 3").expect("write");
    let blobs = BlobStore::local(&parent.path().join("media")).expect("store");
    for key in ["../secret.db", "tasks/../../secret.db", "a//b", "a/./b"] {
        assert_eq!(read(&blobs, key, None).await, None, "{key}");
        assert!(
            blobs.put(key, Bytes::from_static(b"x")).await.is_err(),
            "{key}"
        );
    }
    assert_eq!(
        std::fs::read(parent.path().join("secret.db")).expect("intact"),
        b"SQLite format 3"
    );
}
