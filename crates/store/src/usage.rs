//! Usage reports, streamed from the ledger. The query is written once in `shared/usage.rs`;
//! the few expressions SQLite and PostgreSQL spell differently (a JSON field of a task's
//! request, the UTC day and month of a Unix-ms time) come from each backend as a
//! [`UsageSql`], the way the row-lock suffixes do.
//!
//! Rows are read with sqlx's `fetch`, one at a time, into a bounded channel: a report over
//! years of history never sits in memory, and a reader that goes away (a client that hangs
//! up) stops the query.

use crate::StoreResult;
use async_trait::async_trait;
use futures::stream::BoxStream;
use seedgate_core::usage::{UsageQuery, UsageRow};

/// A report's rows, grouped and ordered by their grouping values. An error ends the stream.
pub type UsageRows = BoxStream<'static, StoreResult<UsageRow>>;

/// Usage reports over the ledger.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// The grouped figures of `query` (see [`seedgate_core::usage`] for what each counts).
    /// `query.account` and `query.key` are ids. The first row (or error) is read before this
    /// returns, so a failing database is an error here rather than a broken stream.
    async fn usage_report(&self, query: &UsageQuery) -> StoreResult<UsageRows>;

    /// Adds to the daily sums the entries of up to `limit` ended tasks that are not summed yet
    /// (a replica of an earlier release ended them during a rolling upgrade, knowing nothing
    /// of the sums): the janitor's work, safe on every replica at once. How many tasks it
    /// summed (not those another replica summed meanwhile); fewer than `limit` when there are
    /// no more.
    async fn sum_ended_tasks_usage(&self, limit: u32) -> StoreResult<u64>;
}

/// The expressions a backend spells its own way, over the report's aliases: `t` the task,
/// `e` the ledger entry.
pub(crate) struct UsageSql {
    /// The task's request field `resolution` and `mode`, as text.
    pub resolution: &'static str,
    pub mode: &'static str,
    /// The entry's UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`).
    pub day: &'static str,
    pub month: &'static str,
    /// The same over a daily sum `r` (its `day`: Unix ms / 86,400,000).
    pub rollup_day: &'static str,
    pub rollup_month: &'static str,
}

/// Rows read ahead of the reader: enough to keep the database busy, small enough to matter
/// nothing in memory.
pub(crate) const READ_AHEAD: usize = 256;

/// Reports reading the database at once, per process. A report bigger than [`READ_AHEAD`] holds
/// a connection for as long as its client takes to read it; beyond this many, reports wait for
/// each other instead of taking the connections every other request needs.
pub(crate) static READERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// A reader whose rows nobody takes for this long gives up its connection (the report then
/// ends in an error, never as if complete).
pub(crate) const STALLED_READER: std::time::Duration = std::time::Duration::from_secs(60);
