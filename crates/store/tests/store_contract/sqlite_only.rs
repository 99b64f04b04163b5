//! What only SQLite has: group commit. Submits that arrive together are written in one
//! transaction, each inside a savepoint of its own. On a single-threaded runtime every spawned
//! submit is queued before the group writer runs, so these runs of the contract's concurrency
//! bodies certainly share groups: the balance guard must see the holds placed earlier in the
//! same group, and a refused submit's savepoint must roll back alone.

use crate::{backend, contract};

#[tokio::test(flavor = "current_thread")]
async fn submits_in_one_group_commit_never_overdraw() {
    backend::sqlite()
        .await
        .run(contract::concurrent_submits_never_overdraw)
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_submit_in_a_group_commit_leaves_the_others_whole() {
    backend::sqlite()
        .await
        .run(contract::a_refused_submit_among_concurrent_ones_leaves_the_others_whole)
        .await;
}
