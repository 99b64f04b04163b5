//! Fetch slots shared fairly between owners (accounts): at most `total` fetches at once, of
//! which any one owner holds at most `per_owner`, so one account's slow URLs cannot take every
//! slot. An owner's request that waits longer than `queue_timeout` for a slot fails with
//! [`FetchError::Busy`], which is worth retrying. Waiters are served in arrival order
//! (tokio's semaphores are fair), and an owner at its share queues behind its own share, not
//! in front of other owners.

use crate::error::FetchError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The owner of fetches made for no account (result downloads, the renderer reading cached
/// media): bounded only by the total, and never timed out.
pub const SHARED_PARTITION: &str = "";

/// Owners remembered before idle ones are forgotten.
const FORGET_ABOVE: usize = 1024;

pub struct FetchShares {
    total: Arc<Semaphore>,
    per_owner: usize,
    queue_timeout: Duration,
    owners: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl std::fmt::Debug for FetchShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchShares")
            .field("available", &self.total.available_permits())
            .field("per_owner", &self.per_owner)
            .field("queue_timeout", &self.queue_timeout)
            .finish_non_exhaustive()
    }
}

/// A held fetch slot; dropping it frees the slot (and the owner's share of it).
#[derive(Debug)]
pub struct FetchPermit {
    _total: OwnedSemaphorePermit,
    _owner: Option<OwnedSemaphorePermit>,
}

impl FetchShares {
    /// `total` slots (at least 1), at most `per_owner` of them (between 1 and `total`) held by
    /// one owner.
    pub fn new(total: usize, per_owner: usize, queue_timeout: Duration) -> Self {
        let total = total.max(1);
        Self {
            total: Arc::new(Semaphore::new(total)),
            per_owner: per_owner.clamp(1, total),
            queue_timeout,
            owners: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_owner(&self) -> usize {
        self.per_owner
    }

    pub fn queue_timeout(&self) -> Duration {
        self.queue_timeout
    }

    /// Waits for a slot for `owner` ([`SHARED_PARTITION`]: for no account).
    pub async fn acquire(&self, owner: &str) -> Result<FetchPermit, FetchError> {
        let closed = || FetchError::Transport("the fetcher is shutting down".into());
        if owner == SHARED_PARTITION {
            let total = self
                .total
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| closed())?;
            return Ok(FetchPermit {
                _total: total,
                _owner: None,
            });
        }
        let share = self.owner_share(owner);
        let total = self.total.clone();
        let waited = tokio::time::timeout(self.queue_timeout, async move {
            // The owner's share first: an owner at its share waits behind itself only.
            let owner = share.acquire_owned().await.map_err(|_| closed())?;
            let total = total.acquire_owned().await.map_err(|_| closed())?;
            Ok::<_, FetchError>(FetchPermit {
                _total: total,
                _owner: Some(owner),
            })
        })
        .await;
        match waited {
            Ok(permit) => permit,
            Err(_) => Err(FetchError::Busy {
                waited: self.queue_timeout,
            }),
        }
    }

    fn owner_share(&self, owner: &str) -> Arc<Semaphore> {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        if owners.len() > FORGET_ABOVE {
            // Only the map holds an idle owner's semaphore: waiters and holders keep a clone.
            owners.retain(|_, s| Arc::strong_count(s) > 1);
        }
        owners
            .entry(owner.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_owner)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn an_owner_at_its_share_waits_but_others_do_not() {
        let shares = FetchShares::new(4, 2, Duration::from_millis(200));
        let a1 = shares.acquire("a").await.expect("a1");
        let _a2 = shares.acquire("a").await.expect("a2");
        // A third for `a` waits for one of its own, then gives up.
        let start = Instant::now();
        let busy = shares.acquire("a").await.expect_err("a is at its share");
        assert!(matches!(busy, FetchError::Busy { .. }), "{busy:?}");
        assert!(!busy.is_permanent());
        assert!(start.elapsed() >= Duration::from_millis(200));
        // `b` gets the free slots at once.
        let start = Instant::now();
        let _b1 = shares.acquire("b").await.expect("b1");
        let _b2 = shares.acquire("b").await.expect("b2");
        assert!(start.elapsed() < Duration::from_millis(100));
        // Every slot is held now: `c` waits until one is freed.
        let freed = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(a1);
        });
        shares.acquire("c").await.expect("c after a1 is freed");
        freed.await.expect("join");
    }

    #[tokio::test]
    async fn the_shared_partition_is_bounded_by_the_total_only() {
        let shares = FetchShares::new(3, 1, Duration::from_millis(50));
        let _a = shares.acquire("a").await.expect("a");
        let _s1 = shares.acquire(SHARED_PARTITION).await.expect("s1");
        let _s2 = shares.acquire(SHARED_PARTITION).await.expect("s2");
        // The total is used up; an owner's wait times out, a shared one waits on.
        assert!(matches!(
            shares.acquire("b").await,
            Err(FetchError::Busy { .. })
        ));
        let shared =
            tokio::time::timeout(Duration::from_millis(100), shares.acquire(SHARED_PARTITION))
                .await;
        assert!(shared.is_err(), "still waiting");
    }

    #[test]
    fn a_share_is_between_one_and_the_total() {
        assert_eq!(FetchShares::new(8, 0, Duration::ZERO).per_owner(), 1);
        assert_eq!(FetchShares::new(8, 20, Duration::ZERO).per_owner(), 8);
        assert_eq!(FetchShares::new(0, 2, Duration::ZERO).per_owner(), 1);
    }
}
