//! API keys, their balances and credit grants; the server's shared secrets.

use super::*;

#[async_trait::async_trait]
impl KeyStore for This {
    async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        credits: i64,
    ) -> StoreResult<ApiKeyRecord> {
        if credits < 0 {
            return Err(StoreError::Conflict(
                "initial credits cannot be negative".into(),
            ));
        }
        let id = ApiKeyId::generate();
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, key_prefix, balance, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(key_hash)
        .bind(key_prefix)
        .bind(credits)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if credits > 0 {
            sqlx::query(
                "INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) \
                 VALUES ($1, 'grant', $2, 'initial credits', $3)",
            )
            .bind(id.as_str())
            .bind(credits)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ApiKeyRecord {
            id,
            name: name.to_string(),
            key_prefix: key_prefix.to_string(),
            balance: credits,
            created_at_ms: now,
            revoked_at_ms: None,
        })
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"));
        let row: Option<KeyRow> = sqlx::query_as(&SQL)
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(ApiKeyRecord::from))
    }

    async fn find_api_key(&self, id_or_name: &str) -> StoreResult<Option<ApiKeyRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 OR name = $1 \
                 ORDER BY created_at_ms"
            )
        });
        let mut rows: Vec<KeyRow> = sqlx::query_as(&SQL)
            .bind(id_or_name)
            .fetch_all(self.pool())
            .await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.pop().map(ApiKeyRecord::from)),
            n => Err(StoreError::Conflict(format!(
                "{n} keys are named `{id_or_name}`; use the key id"
            ))),
        }
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms"));
        let rows: Vec<KeyRow> = sqlx::query_as(&SQL).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn count_api_keys(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn revoke_api_key(&self, id: &ApiKeyId) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id.as_str())
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn grant_credits(&self, id: &ApiKeyId, amount: i64, note: &str) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        // Guarded like a hold: the row lock orders racing grants, each re-checking the guard.
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE api_keys SET balance = balance + $1 WHERE id = $2 AND balance + $1 >= 0 \
             RETURNING balance",
        )
        .bind(amount)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance) = balance else {
            let available: Option<i64> =
                sqlx::query_scalar("SELECT balance FROM api_keys WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match available {
                None => StoreError::NotFound,
                Some(available) => StoreError::InsufficientCredits { available },
            });
        };
        sqlx::query(
            "INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) \
             VALUES ($1, 'grant', $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(amount)
        .bind(note)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(balance)
    }
}

#[async_trait::async_trait]
impl ServerSecrets for This {
    async fn server_secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(value)
    }
}
