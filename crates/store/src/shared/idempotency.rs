//! Idempotency-Key records.

use super::*;

#[async_trait::async_trait]
impl IdempotencyStore for This {
    async fn claim_idempotency_key(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        fingerprint: &str,
        stale_after: Duration,
    ) -> StoreResult<IdempotencyClaim> {
        static EXISTING: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT fingerprint, state, response_status, response_body, locked_at_ms \
                 FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2{ROW_LOCK}"
            )
        });
        loop {
            let now = now_ms();
            let mut tx = self.write_tx().await?;
            // A first claim inserts; a racing first claim waits on the new row and then finds
            // it taken.
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, state, \
                 locked_at_ms, created_at_ms) VALUES ($1, $2, $3, 'in_progress', $4, $4) \
                 ON CONFLICT (api_key_id, idem_key) DO NOTHING",
            )
            .bind(api_key.as_str())
            .bind(key)
            .bind(fingerprint)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                tx.commit().await?;
                return Ok(IdempotencyClaim::Claimed);
            }
            // The record exists: lock it, so that two stale takeovers cannot both win.
            let existing: Option<IdempotencyRow> = sqlx::query_as(&EXISTING)
                .bind(api_key.as_str())
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = existing else {
                // Released or pruned since the insert found it: claim afresh.
                tx.rollback().await?;
                continue;
            };
            let locked_at = row.locked_at_ms;
            let claim = match row.claim_for(fingerprint) {
                Some(claim) => claim,
                None if now - locked_at >= millis(stale_after) => {
                    // The request holding it died before finishing; nothing was created.
                    sqlx::query(
                        "UPDATE idempotency_keys SET locked_at_ms = $1 \
                         WHERE api_key_id = $2 AND idem_key = $3",
                    )
                    .bind(now)
                    .bind(api_key.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                    IdempotencyClaim::Claimed
                }
                None => IdempotencyClaim::InFlight,
            };
            tx.commit().await?;
            return Ok(claim);
        }
    }

    async fn release_idempotency_key(&self, api_key: &ApiKeyId, key: &str) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "DELETE FROM idempotency_keys \
             WHERE api_key_id = $1 AND idem_key = $2 AND state = 'in_progress'",
            )
            .bind(api_key.as_str())
            .bind(key),
        )
        .await?;
        Ok(())
    }
}
