//! Periodic clean-up every replica may run: expired idempotency records.

use super::*;

/// Prunes idempotency keys past their retention, every `every`, until shutdown.
pub async fn housekeeping(
    store: Arc<dyn Store>,
    retention: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match store.prune_idempotency_keys(retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "expired idempotency keys removed"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
