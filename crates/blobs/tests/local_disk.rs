//! Object storage on local disk: what `put` writes is where `get` and the disk say it is,
//! ranges are exact, and keys cannot leave the root.

use bytes::Bytes;
use futures::TryStreamExt;
use seedgate_blobs::BlobStore;

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

#[tokio::test]
async fn a_streamed_put_stores_every_chunk_and_a_broken_stream_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = BlobStore::local(dir.path()).expect("store");
    // Larger than one multipart part (5 MiB), in uneven chunks.
    let data: Vec<u8> = (0..=250u8).cycle().take(12 * 1024 * 1024 + 7).collect();
    let chunks: Vec<Result<Bytes, String>> = data
        .chunks(700_001)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let size = blobs
        .put_stream("tasks/t2/1/0.mp4", futures::stream::iter(chunks))
        .await
        .expect("put_stream");
    assert_eq!(size, data.len() as u64);
    assert_eq!(read(&blobs, "tasks/t2/1/0.mp4", None).await, Some(data));

    let broken: Vec<Result<Bytes, String>> = vec![
        Ok(Bytes::from_static(b"the start of a video")),
        Err("connection reset".into()),
    ];
    let err = blobs
        .put_stream("tasks/t3/1/0.mp4", futures::stream::iter(broken))
        .await
        .expect_err("a broken stream fails");
    assert!(err.to_string().contains("connection reset"), "{err}");
    assert_eq!(
        read(&blobs, "tasks/t3/1/0.mp4", None).await,
        None,
        "no partial object is left behind"
    );
}

/// A file of several read chunks, whole and by ranges across chunk boundaries: every byte in
/// place, the range and size reported as read, a range cut at the file's end, and one starting
/// past it refused.
#[tokio::test]
async fn large_files_read_back_exactly_in_any_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = BlobStore::local(dir.path()).expect("store");
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let key = "tasks/big/1/0.mp4";
    blobs
        .put(key, Bytes::from(data.clone()))
        .await
        .expect("put");
    assert_eq!(read(&blobs, key, None).await, Some(data.clone()));
    for (start, end) in [
        (0, 1),
        (262_143, 262_145),
        (100_000, 2_900_000),
        (2_999_999, 3_000_000),
    ] {
        let got = blobs
            .get(key, Some(start..end))
            .await
            .expect("get")
            .expect("found");
        assert_eq!((got.range.clone(), got.total_size), (start..end, 3_000_000));
        let bytes: Vec<Bytes> = got.stream.try_collect().await.expect("stream");
        assert_eq!(bytes.concat(), data[start as usize..end as usize].to_vec());
    }
    let cut = blobs
        .get(key, Some(2_999_000..4_000_000))
        .await
        .expect("get")
        .expect("found");
    assert_eq!(cut.range, 2_999_000..3_000_000);
    assert!(blobs.get(key, Some(3_000_000..3_000_010)).await.is_err());
    assert!(
        blobs.get("tasks/big", None).await.expect("get").is_none(),
        "a folder is no file"
    );
}
