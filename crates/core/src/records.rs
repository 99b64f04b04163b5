//! The records the application shows its callers: a page of tasks and the query that selects
//! it, an uploaded asset, a callback's delivery log, a stored response. The store persists
//! them; dialects render them.

use crate::ids::{ApiKeyId, TaskId};
use crate::media::MediaFacts;
use crate::task::{Task, TaskStatus};

/// A stored idempotent response, replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Which of a key's tasks to list, and how. Every dialect's listing is a view of this.
#[derive(Debug, Clone)]
pub struct TaskQuery {
    /// Only tasks in one of these states (all when empty).
    pub statuses: Vec<TaskStatus>,
    /// Only these tasks (all when empty).
    pub ids: Vec<TaskId>,
    /// Only tasks of this canonical model.
    pub model: Option<String>,
    /// Newest first (the default) or oldest first.
    pub oldest_first: bool,
    /// Keyset cursor: only tasks after this one in the listing's order.
    pub after: Option<TaskId>,
    /// Tasks to skip (page-number listings).
    pub offset: u64,
    pub limit: u32,
}

impl Default for TaskQuery {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            ids: Vec::new(),
            model: None,
            oldest_first: false,
            after: None,
            offset: 0,
            limit: 20,
        }
    }
}

/// One page of a key's tasks.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub has_more: bool,
    /// Tasks matching the filters, over all pages (the cursor and offset ignored).
    pub total: u64,
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackAttempt {
    pub attempt: u32,
    pub started_at_ms: i64,
    /// The receiver's HTTP status; `None` when it never answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

/// Where a callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    Pending,
    Delivered,
    /// The retry schedule was used up.
    Failed,
    /// The receiver answered 410 Gone: no more attempts.
    Gone,
    /// A status callback (Ark's `queued`, `running`) not yet delivered when the task finished:
    /// the final callback replaces it, so a receiver never hears an older status last.
    Superseded,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Delivered => "delivered",
            CallbackState::Failed => "failed",
            CallbackState::Gone => "gone",
            CallbackState::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            CallbackState::Pending,
            CallbackState::Delivered,
            CallbackState::Failed,
            CallbackState::Gone,
            CallbackState::Superseded,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A task's callback and its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRecord {
    pub id: String,
    pub task_id: TaskId,
    pub url: String,
    pub dialect: String,
    pub state: CallbackState,
    pub next_attempt_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub attempts: Vec<CallbackAttempt>,
}

/// A file a client uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRecord {
    pub id: String,
    /// The account whose keys may use it, and the key that uploaded it.
    pub account_id: crate::ids::AccountId,
    pub api_key_id: ApiKeyId,
    pub object_key: String,
    pub content_type: String,
    pub facts: MediaFacts,
    pub created_at_ms: i64,
    /// The label the client gave the file, if any.
    pub name: Option<String>,
}
