//! Retention: what the janitor (`seedgate_workers::janitor`) asks of the store. Every method
//! does one bounded batch in its own transaction, so a pass stopped between two calls (a
//! SIGTERM) leaves everything consistent, and the next pass carries on where it stopped.
//!
//! A finished task's media expire in two steps: [`RetentionStore::expire_task_media`] marks
//! the task (`media_expired_at_ms`) in the transaction that decides, after which it reads back
//! without media and no new link to them is signed; once every link signed before the mark has
//! expired, [`RetentionStore::media_to_purge`] hands the janitor the files to delete and
//! [`RetentionStore::media_purged`] records them gone. A crash between the deletes and that
//! record only leaves files that the next pass deletes again (deleting a missing file is no
//! error). Ledger entries are never deleted by anything here.
//!
//! One pass runs at a time across every replica: [`RetentionStore::claim_janitor`] takes a
//! lease (one conditional upsert on `janitor_leases`), renewed between batches.

use crate::StoreResult;
use async_trait::async_trait;
use seedgate_core::ids::TaskId;
use std::collections::HashSet;

/// A task whose media expired, with the files to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredMedia {
    pub task_id: TaskId,
    /// Its result files (videos and last frames of every attempt that stored one).
    pub keys: Vec<String>,
}

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Takes (or renews) the janitor's lease for `holder` until `until_ms`; `false` while
    /// another holder's lease has not expired at `now_ms`.
    async fn claim_janitor(&self, holder: &str, now_ms: i64, until_ms: i64) -> StoreResult<bool>;
    /// Gives the lease up (only `holder`'s own).
    async fn release_janitor(&self, holder: &str) -> StoreResult<()>;
    /// Marks the media of up to `limit` succeeded tasks that finished before
    /// `finished_before_ms` (and are not marked yet) as expired at `now_ms`; the tasks marked.
    async fn expire_task_media(
        &self,
        finished_before_ms: i64,
        now_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskId>>;
    /// Up to `limit` tasks marked expired before `marked_before_ms` whose files are not
    /// recorded deleted yet, oldest mark first.
    async fn media_to_purge(
        &self,
        marked_before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiredMedia>>;
    /// Records the files of `tasks` deleted.
    async fn media_purged(&self, tasks: &[TaskId], now_ms: i64) -> StoreResult<()>;
    /// When the task's media expired, if they did (for the media route's 410).
    async fn media_expired_at(&self, task: &TaskId) -> StoreResult<Option<i64>>;
    /// Deletes up to `limit` timeline events written before `before_ms` of tasks that are
    /// finished; how many.
    async fn prune_task_events(&self, before_ms: i64, limit: u32) -> StoreResult<u64>;
    /// Deletes up to `limit` Idempotency-Key records created before `before_ms`; how many.
    async fn prune_idempotency_batch(&self, before_ms: i64, limit: u32) -> StoreResult<u64>;
    /// Deletes up to `limit` daily-spend rows of UTC days before `before_day` (days since
    /// 1970-01-01), carrying their credits into one row per owner that only the total budget
    /// counts (it sums every day); how many were deleted.
    async fn prune_spend_days(&self, before_day: i64, limit: u32) -> StoreResult<u64>;
    /// The reference copies (`refs/…` keys) that a task not finished yet, or a task created
    /// at or after `created_since_ms` (whose links may still be fetched), points at.
    async fn media_copies_in_use(&self, created_since_ms: i64) -> StoreResult<HashSet<String>>;
    /// The database's size on disk in bytes, when the backend can tell.
    async fn database_bytes(&self) -> StoreResult<Option<u64>>;
}
