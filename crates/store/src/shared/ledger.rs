//! The ledger, read whole for an audit.

use super::*;

#[async_trait::async_trait]
impl LedgerStore for This {
    async fn ledger_dump(&self) -> StoreResult<LedgerDump> {
        // One snapshot, so entries, tasks and balances agree with each other while other
        // writers carry on.
        let mut tx = self.read_tx().await?;
        let entries: Vec<LedgerRow> = sqlx::query_as(
            "SELECT seq, account_id, task_id, kind, amount, created_at_ms FROM ledger_entries \
             ORDER BY seq",
        )
        .fetch_all(&mut *tx)
        .await?;
        let tasks: Vec<TaskFactsRow> =
            sqlx::query_as("SELECT id, account_id, status, price_credits FROM tasks")
                .fetch_all(&mut *tx)
                .await?;
        let balances: Vec<BalanceRow> = sqlx::query_as("SELECT id, balance FROM accounts")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(LedgerDump {
            entries: entries
                .into_iter()
                .map(LedgerEntry::try_from)
                .collect::<StoreResult<_>>()?,
            tasks: tasks
                .into_iter()
                .map(TaskFacts::try_from)
                .collect::<StoreResult<_>>()?,
            balances: balances.into_iter().map(CachedBalance::from).collect(),
        })
    }
}
