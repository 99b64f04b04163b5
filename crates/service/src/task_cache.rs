//! Tasks answered from memory. A poll is the commonest request a gateway serves, and most
//! polls find the task as the previous poll did; reading it again from the database costs a
//! round trip (on SQLite, two thread hand-offs) for nothing. So a task that was read is kept
//! until the store's change feed ([`seedgate_store::changes`]) says its row changed — on this
//! replica or, through PostgreSQL's `LISTEN`, on any other — and is served from memory only
//! while the feed is live.
//!
//! A read racing a change must not put the old row back after the change dropped it: every
//! change bumps an epoch, and a read that saw the epoch move while it was at the database
//! drops what it just inserted (the insert comes before that check, and a change's bump
//! before its removal, so one of the two always removes the stale copy).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Copies of tasks (`T` is the task; generic so the race tests need no real one), by id.
pub(crate) struct TaskCache<T> {
    entries: moka::sync::Cache<String, Arc<T>>,
    epoch: AtomicU64,
}

/// A read of the database under way: what the epoch was when it began.
pub(crate) struct ReadTicket(u64);

impl<T: Send + Sync + 'static> TaskCache<T> {
    pub(crate) fn new() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(crate::FINISHED_CACHE_TTL)
                .build(),
            epoch: AtomicU64::new(0),
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<T>> {
        self.entries.get(id)
    }

    /// Call before reading a task from the database.
    pub(crate) fn begin_read(&self) -> ReadTicket {
        ReadTicket(self.epoch.load(Ordering::SeqCst))
    }

    /// Keeps what a read begun with `ticket` found, unless something changed meanwhile.
    pub(crate) fn insert(&self, ticket: ReadTicket, id: &str, task: Arc<T>) {
        self.entries.insert(id.to_string(), task);
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            self.entries.invalidate(id);
        }
    }

    /// The task changed: its copy, if any, is dropped.
    pub(crate) fn forget(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(id);
    }

    /// Changes may have been missed: every copy is dropped.
    pub(crate) fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_kept_is_served_until_its_task_changes() {
        let cache = TaskCache::<&str>::new();
        let ticket = cache.begin_read();
        cache.insert(ticket, "task_a", Arc::new("row"));
        assert!(cache.get("task_a").is_some());
        cache.forget("task_b");
        assert!(cache.get("task_a").is_some(), "another task's change");
        cache.forget("task_a");
        assert!(cache.get("task_a").is_none());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = TaskCache::<&str>::new();
        let ticket = cache.begin_read();
        // The change commits while the read is at the database.
        cache.forget("task_a");
        cache.insert(ticket, "task_a", Arc::new("row"));
        assert!(
            cache.get("task_a").is_none(),
            "the old row must not come back"
        );
        // A read begun after the change is kept.
        let ticket = cache.begin_read();
        cache.insert(ticket, "task_a", Arc::new("row"));
        assert!(cache.get("task_a").is_some());
        cache.forget_all();
        assert!(cache.get("task_a").is_none());
    }
}
