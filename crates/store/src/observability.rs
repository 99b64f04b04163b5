//! What the store tells the metrics: credits held, settled and refunded and tasks finished,
//! counted by this replica once the transaction that moved them has committed (a rolled-back
//! transaction moved nothing, so it counts nothing), and the queue's gauges, read across every
//! replica by [`crate::TaskQueue::queue_gauges`].

use metrics::counter;
use seedgate_core::task::{HoldResolution, TaskStatus};

/// A task a transaction ended, and the credits its hold resolved. Counted with
/// [`Ended::count`] after the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "count it once the transaction has committed"]
pub struct Ended {
    pub status: TaskStatus,
    /// The hold it settled (charged) or released (refunded).
    pub credits: u64,
}

impl Ended {
    pub fn count(self) {
        counter!("seedgate_tasks_finished_total", "state" => self.status.as_str()).increment(1);
        match self.status.hold_resolution() {
            Some(HoldResolution::Settle) => {
                counter!("seedgate_credits_settled_total").increment(self.credits)
            }
            Some(HoldResolution::Release) => refunded(self.credits),
            None => {}
        }
    }
}

/// A new task's hold was placed (its transaction committed).
pub fn hold_placed(credits: u64) {
    counter!("seedgate_credits_held_total").increment(credits);
}

/// Credits given back to an account for a task: a released hold, or an operator's refund of a
/// settled task. Call after the commit.
pub fn refunded(credits: u64) {
    counter!("seedgate_credits_refunded_total").increment(credits);
}

/// The queue as the metrics' gauges show it, across every replica. Each figure is one indexed
/// read, cheap enough to take at every scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueGauges {
    /// Tasks waiting for a worker (due now or later: retries and deferrals included).
    pub queued: u64,
    /// Queued tasks due now: what the workers have yet to pick up.
    pub due: u64,
    pub running: u64,
    /// When the oldest queued task was created (Unix ms); `None` with nothing queued.
    pub oldest_queued_created_at_ms: Option<i64>,
    /// Callbacks not yet delivered nor given up.
    pub callbacks_pending: u64,
}
