//! Records of uploaded files, within each key's quota.

use super::*;

#[async_trait::async_trait]
impl AssetStore for This {
    async fn create_asset(&self, asset: &AssetRecord, quota_bytes: u64) -> StoreResult<()> {
        let facts =
            serde_json::to_string(&asset.facts).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let size = to_i64(asset.facts.size_bytes, "asset size")?;
        let mut tx = self.write_tx().await?;
        // The quota is a sum over rows: uploads of one key take turns, so two cannot both fit
        // in the same remaining space.
        lock_key(&mut tx, KeyLock::AssetQuota, asset.account_id.as_str()).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM assets WHERE account_id = $1",
        )
        .bind(asset.account_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let used = u64::try_from(used).unwrap_or(0);
        if used.saturating_add(asset.facts.size_bytes) > quota_bytes {
            return Err(StoreError::QuotaExceeded {
                used,
                quota: quota_bytes,
            });
        }
        sqlx::query(
            "INSERT INTO assets (id, api_key_id, object_key, content_type, size_bytes, facts_json, \
             created_at_ms, name, account_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&asset.id)
        .bind(asset.api_key_id.as_str())
        .bind(&asset.object_key)
        .bind(&asset.content_type)
        .bind(size)
        .bind(facts)
        .bind(asset.created_at_ms)
        .bind(asset.name.as_deref())
        .bind(asset.account_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_asset(&self, id: &str, account: &AccountId) -> StoreResult<Option<AssetRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {ASSET_COLUMNS} FROM assets WHERE id = $1 AND account_id = $2")
        });
        let row: Option<AssetRow> = sqlx::query_as(&SQL)
            .bind(id)
            .bind(account.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(AssetRecord::try_from).transpose()
    }
}
