//! The change feed: what the database just committed, for the parts of a replica that keep
//! copies of rows (the task cache) or wait for work (workers, the callback dispatcher), so
//! they react to a commit at once instead of on their next tick.
//!
//! Every backend publishes its own commits here as they happen. PostgreSQL also carries every
//! replica's commits to every other: triggers on `tasks` and `callbacks` (migration 0015)
//! `NOTIFY` at commit, and each replica `LISTEN`s on one connection ([`PgStore`]'s listener).
//! While that connection is down the feed is not [live](ChangeFeed::is_live): a replica must
//! not trust copies it cannot hear invalidated; when it is back, a [`Change::Resync`] drops
//! them all, since changes made meanwhile were not heard.
//!
//! SQLite is one process's file: its commits are all this process's own, so its feed is
//! always live.
//!
//! [`PgStore`]: crate::PgStore

use seedgate_core::ids::TaskId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A task's row changed (created, claimed, leased, finished, deleted, its media expired).
    Task(TaskId),
    /// Tasks may have become due for a worker.
    TasksDue,
    /// Callbacks may have become due for the dispatcher.
    CallbacksDue,
    /// Changes may have gone unheard (the PostgreSQL listener lost its connection): copies of
    /// rows must all be dropped.
    Resync,
}

/// Called with every change, on the thread that published it: it must be quick and must not
/// block (drop a cached copy, wake a waiting task).
pub type Subscriber = Box<dyn Fn(&Change) + Send + Sync>;

/// The feed, shared by every clone of a store.
#[derive(Clone)]
pub struct ChangeFeed {
    subscribers: Arc<RwLock<Vec<Subscriber>>>,
    live: Arc<AtomicBool>,
}

impl ChangeFeed {
    pub(crate) fn new(live: bool) -> Self {
        Self {
            subscribers: Arc::default(),
            live: Arc::new(AtomicBool::new(live)),
        }
    }

    /// Calls `subscriber` with every change committed from now on. A change this process
    /// commits reaches its subscribers before the store call that made it returns, so a
    /// caller reading after its own write never finds an old copy.
    pub fn subscribe(&self, subscriber: Subscriber) {
        if let Ok(mut subscribers) = self.subscribers.write() {
            subscribers.push(subscriber);
        }
    }

    /// Whether every committed change reaches this feed. Copies may be served only while it
    /// is.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::SeqCst);
    }

    /// Publishes changes that have committed.
    pub(crate) fn publish(&self, changes: impl IntoIterator<Item = Change>) {
        let Ok(subscribers) = self.subscribers.read() else {
            return;
        };
        for change in changes {
            for subscriber in subscribers.iter() {
                subscriber(&change);
            }
        }
    }

    /// Publishes one task's change.
    pub(crate) fn task(&self, id: &TaskId) {
        self.publish([Change::Task(id.clone())]);
    }

    /// Publishes one task's change by its stored id.
    pub(crate) fn task_str(&self, id: &str) {
        self.publish([Change::Task(TaskId::from_string(id))]);
    }

    /// Parses one PostgreSQL notification's payload (see migration 0015): `t:<task id>`,
    /// `q` (tasks due) or `c` (callbacks due).
    pub(crate) fn parse_notification(payload: &str) -> Option<Change> {
        match payload {
            "q" => Some(Change::TasksDue),
            "c" => Some(Change::CallbacksDue),
            _ => payload
                .strip_prefix("t:")
                .filter(|id| !id.is_empty())
                .map(|id| Change::Task(TaskId::from_string(id))),
        }
    }
}

/// What a store provides: its change feed.
pub trait ChangeSource: Send + Sync + 'static {
    fn changes(&self) -> &ChangeFeed;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_parse_to_changes() {
        assert_eq!(
            ChangeFeed::parse_notification("t:task_01abc"),
            Some(Change::Task(TaskId::from_string("task_01abc")))
        );
        assert_eq!(ChangeFeed::parse_notification("q"), Some(Change::TasksDue));
        assert_eq!(
            ChangeFeed::parse_notification("c"),
            Some(Change::CallbacksDue)
        );
        assert_eq!(ChangeFeed::parse_notification("t:"), None);
        assert_eq!(ChangeFeed::parse_notification("x"), None);
    }

    #[test]
    fn published_changes_reach_every_subscriber_in_order() {
        let feed = ChangeFeed::new(true);
        let heard: Arc<std::sync::Mutex<Vec<(char, Change)>>> = Arc::default();
        for name in ['a', 'b'] {
            let heard = heard.clone();
            feed.subscribe(Box::new(move |c| {
                if let Ok(mut heard) = heard.lock() {
                    heard.push((name, c.clone()));
                }
            }));
        }
        feed.task_str("task_1");
        feed.clone().publish([Change::CallbacksDue]);
        let task = Change::Task(TaskId::from_string("task_1"));
        assert_eq!(
            *heard.lock().expect("lock"),
            vec![
                ('a', task.clone()),
                ('b', task),
                ('a', Change::CallbacksDue),
                ('b', Change::CallbacksDue)
            ]
        );
        assert!(feed.is_live());
        feed.set_live(false);
        assert!(!feed.clone().is_live(), "clones share liveness");
    }
}
