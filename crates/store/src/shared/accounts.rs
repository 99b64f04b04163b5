//! Accounts, their API keys and credit grants; admin tokens and the audit log; the server's
//! shared secrets.

use super::*;
use crate::rows::{AccountRow, AdminTokenRow, AuditRow, ACCOUNT_COLUMNS, ADMIN_TOKEN_COLUMNS};
use seedgate_core::accounts::{utc_day, BudgetPeriod};
use seedgate_core::ids::{AccountId, AdminTokenId};

/// Appends an admin write to the audit log, inside the transaction that makes it.
pub(super) async fn audit<B: serde::Serialize, A: serde::Serialize>(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    target: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> StoreResult<()> {
    let encode = |v: Option<serde_json::Result<String>>| {
        v.transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let before = encode(before.map(serde_json::to_string))?;
    let after = encode(after.map(serde_json::to_string))?;
    sqlx::query(
        "INSERT INTO admin_audit (at_ms, actor, action, target, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now_ms())
    .bind(&actor.0)
    .bind(action)
    .bind(target)
    .bind(before)
    .bind(after)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Nothing, for an audit entry without a before or an after.
pub(super) const NONE: Option<&()> = None;

fn policy_json(policy: &Policy) -> StoreResult<String> {
    serde_json::to_string(policy).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn unique_violation(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("{what} already exists"))
        }
        _ => StoreError::Database(e),
    }
}

static KEY_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"));
static ACCOUNT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"));

async fn key_in(tx: &mut Tx, id: &str) -> StoreResult<ApiKeyRecord> {
    let row: Option<KeyRow> = sqlx::query_as(&KEY_BY_ID)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

async fn account_in(tx: &mut Tx, id: &str) -> StoreResult<AccountRecord> {
    let row: Option<AccountRow> = sqlx::query_as(&ACCOUNT_BY_ID)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// Inserts an account and its initial grant inside `tx`.
async fn insert_account(
    tx: &mut Tx,
    id: &AccountId,
    name: &str,
    policy: &Policy,
    credits: i64,
    now: i64,
) -> StoreResult<()> {
    if credits < 0 {
        return Err(StoreError::Conflict(
            "initial credits cannot be negative".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO accounts (id, name, balance, policy_json, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.as_str())
    .bind(name)
    .bind(credits)
    .bind(policy_json(policy)?)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if credits > 0 {
        sqlx::query(
            "INSERT INTO ledger_entries (account_id, kind, amount, note, created_at_ms) \
             VALUES ($1, 'grant', $2, 'initial credits', $3)",
        )
        .bind(id.as_str())
        .bind(credits)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_key(
    tx: &mut Tx,
    id: ApiKeyId,
    account: &AccountId,
    name: &str,
    key_hash: &str,
    key_prefix: &str,
    policy: &Policy,
    now: i64,
) -> StoreResult<ApiKeyRecord> {
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, name, key_hash, key_prefix, policy_json, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(account.as_str())
    .bind(name)
    .bind(key_hash)
    .bind(key_prefix)
    .bind(policy_json(policy)?)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, "a key with this secret"))?;
    Ok(ApiKeyRecord {
        id,
        account_id: account.clone(),
        name: name.to_string(),
        key_prefix: key_prefix.to_string(),
        policy: policy.clone(),
        created_at_ms: now,
        revoked_at_ms: None,
    })
}

/// Renames a key or an account, or replaces its policy (`table` is `api_keys` or `accounts`).
async fn apply_changes(tx: &mut Tx, table: &str, id: &str, changes: &Changes) -> StoreResult<()> {
    let policy = changes.policy.as_ref().map(policy_json).transpose()?;
    sqlx::query(&format!(
        "UPDATE {table} SET name = COALESCE($1, name), policy_json = COALESCE($2, policy_json) \
         WHERE id = $3"
    ))
    .bind(changes.name.as_deref())
    .bind(policy)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The one row `id_or_name` names, or a conflict when a name is shared.
fn one_named<T>(mut rows: Vec<T>, id_or_name: &str, what: &str) -> StoreResult<Option<T>> {
    match rows.len() {
        0 => Ok(None),
        1 => Ok(rows.pop()),
        n => Err(StoreError::Conflict(format!(
            "{n} {what}s are named `{id_or_name}`; use the {what} id"
        ))),
    }
}

/// Credits an owner spent today, this UTC month and ever (`day` is today).
pub(super) async fn spent<'e, E>(executor: E, owner: &str, day: i64) -> StoreResult<(u64, u64, u64)>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let (month_start, _) = BudgetPeriod::Month.span(day);
    let (today, month, total): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        // PostgreSQL sums BIGINTs as NUMERIC: cast back.
        "SELECT CAST(SUM(CASE WHEN day = $2 THEN credits ELSE 0 END) AS BIGINT), \
                CAST(SUM(CASE WHEN day >= $3 THEN credits ELSE 0 END) AS BIGINT), \
                CAST(SUM(credits) AS BIGINT) \
         FROM spend_daily WHERE owner_id = $1",
    )
    .bind(owner)
    .bind(day)
    .bind(month_start)
    .fetch_one(executor)
    .await?;
    let credits = |v: Option<i64>| u64::try_from(v.unwrap_or(0)).unwrap_or(0);
    Ok((credits(today), credits(month), credits(total)))
}

#[async_trait::async_trait]
impl AccountStore for This {
    async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        credits: i64,
    ) -> StoreResult<ApiKeyRecord> {
        let now = now_ms();
        let id = ApiKeyId::generate();
        let account = AccountId::for_key(&id);
        let mut tx = self.write_tx().await?;
        insert_account(&mut tx, &account, name, &Policy::default(), credits, now).await?;
        let key = insert_key(
            &mut tx,
            id,
            &account,
            name,
            key_hash,
            key_prefix,
            &Policy::default(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn create_account(
        &self,
        name: &str,
        policy: &Policy,
        credits: i64,
        actor: &Actor,
    ) -> StoreResult<AccountRecord> {
        let now = now_ms();
        let id = AccountId::generate();
        let mut tx = self.write_tx().await?;
        insert_account(&mut tx, &id, name, policy, credits, now).await?;
        let account = account_in(&mut tx, id.as_str()).await?;
        audit(
            &mut tx,
            actor,
            "account.create",
            id.as_str(),
            NONE,
            Some(&account),
        )
        .await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn add_api_key(
        &self,
        account: &AccountId,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        policy: &Policy,
        actor: &Actor,
    ) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.write_tx().await?;
        account_in(&mut tx, account.as_str()).await?;
        let key = insert_key(
            &mut tx,
            ApiKeyId::generate(),
            account,
            name,
            key_hash,
            key_prefix,
            policy,
            now_ms(),
        )
        .await?;
        audit(
            &mut tx,
            actor,
            "key.create",
            key.id.as_str(),
            NONE,
            Some(&key),
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn find_credential(&self, key_hash: &str) -> StoreResult<Option<Credential>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"));
        let row: Option<KeyRow> = sqlx::query_as(&SQL)
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let key = ApiKeyRecord::try_from(row)?;
        let account: Option<AccountRow> = sqlx::query_as(&ACCOUNT_BY_ID)
            .bind(key.account_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        let account = account
            .ok_or_else(|| StoreError::Corrupt(format!("key {}: no account", key.id)))?
            .try_into()?;
        Ok(Some(Credential { key, account }))
    }

    async fn find_api_key(&self, id_or_name: &str) -> StoreResult<Option<ApiKeyRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 OR name = $1 \
                 ORDER BY created_at_ms"
            )
        });
        let rows: Vec<KeyRow> = sqlx::query_as(&SQL)
            .bind(id_or_name)
            .fetch_all(self.pool())
            .await?;
        one_named(rows, id_or_name, "key")?
            .map(ApiKeyRecord::try_from)
            .transpose()
    }

    async fn find_account(&self, id_or_name: &str) -> StoreResult<Option<AccountRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 OR name = $1 \
                 ORDER BY created_at_ms"
            )
        });
        let rows: Vec<AccountRow> = sqlx::query_as(&SQL)
            .bind(id_or_name)
            .fetch_all(self.pool())
            .await?;
        one_named(rows, id_or_name, "account")?
            .map(AccountRecord::try_from)
            .transpose()
    }

    async fn list_api_keys(&self, account: Option<&AccountId>) -> StoreResult<Vec<ApiKeyRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {KEY_COLUMNS} FROM api_keys \
                 WHERE CAST($1 AS TEXT) IS NULL OR account_id = $1 ORDER BY created_at_ms, id"
            )
        });
        let rows: Vec<KeyRow> = sqlx::query_as(&SQL)
            .bind(account.map(AccountId::as_str))
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(ApiKeyRecord::try_from).collect()
    }

    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at_ms, id")
        });
        let rows: Vec<AccountRow> = sqlx::query_as(&SQL).fetch_all(self.pool()).await?;
        rows.into_iter().map(AccountRecord::try_from).collect()
    }

    async fn count_api_keys(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, actor: &Actor) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.write_tx().await?;
        let before = key_in(&mut tx, id.as_str()).await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let after = key_in(&mut tx, id.as_str()).await?;
        if before != after {
            audit(
                &mut tx,
                actor,
                "key.revoke",
                id.as_str(),
                Some(&before),
                Some(&after),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    async fn update_api_key(
        &self,
        id: &ApiKeyId,
        changes: &Changes,
        actor: &Actor,
    ) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.write_tx().await?;
        let before = key_in(&mut tx, id.as_str()).await?;
        apply_changes(&mut tx, "api_keys", id.as_str(), changes).await?;
        let after = key_in(&mut tx, id.as_str()).await?;
        audit(
            &mut tx,
            actor,
            "key.update",
            id.as_str(),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn rotate_api_key(
        &self,
        id: &ApiKeyId,
        key_hash: &str,
        key_prefix: &str,
        actor: &Actor,
    ) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.write_tx().await?;
        let before = key_in(&mut tx, id.as_str()).await?;
        if before.revoked_at_ms.is_some() {
            return Err(StoreError::Revoked);
        }
        sqlx::query("UPDATE api_keys SET key_hash = $1, key_prefix = $2 WHERE id = $3")
            .bind(key_hash)
            .bind(key_prefix)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_violation(e, "a key with this secret"))?;
        let after = key_in(&mut tx, id.as_str()).await?;
        audit(
            &mut tx,
            actor,
            "key.rotate",
            id.as_str(),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn update_account(
        &self,
        id: &AccountId,
        changes: &Changes,
        actor: &Actor,
    ) -> StoreResult<AccountRecord> {
        let mut tx = self.write_tx().await?;
        let before = account_in(&mut tx, id.as_str()).await?;
        apply_changes(&mut tx, "accounts", id.as_str(), changes).await?;
        let after = account_in(&mut tx, id.as_str()).await?;
        audit(
            &mut tx,
            actor,
            "account.update",
            id.as_str(),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn grant_credits(
        &self,
        account: &AccountId,
        amount: i64,
        note: &str,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        // Guarded like a hold: the row lock orders racing grants, each re-checking the guard.
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND balance + $1 >= 0 \
             AND balance + $1 <= $3 RETURNING balance",
        )
        .bind(amount)
        .bind(account.as_str())
        .bind(seedgate_core::ledger::MAX_BALANCE)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance) = balance else {
            let available: Option<i64> =
                sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
                    .bind(account.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match available {
                None => StoreError::NotFound,
                Some(available) if amount > 0 => StoreError::Conflict(format!(
                    "the balance ({available}) would exceed the most an account may hold ({})",
                    seedgate_core::ledger::MAX_BALANCE
                )),
                Some(available) => StoreError::InsufficientCredits { available },
            });
        };
        sqlx::query(
            "INSERT INTO ledger_entries (account_id, kind, amount, note, created_at_ms) \
             VALUES ($1, 'grant', $2, $3, $4)",
        )
        .bind(account.as_str())
        .bind(amount)
        .bind(note)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let what = serde_json::json!({ "amount": amount, "note": note, "balance": balance });
        let action = if amount >= 0 {
            "credits.grant"
        } else {
            "credits.debit"
        };
        audit(&mut tx, actor, action, account.as_str(), NONE, Some(&what)).await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn owner_usage(&self, owner: &str, is_key: bool, now: i64) -> StoreResult<OwnerUsage> {
        let mut tx = self.read_tx().await?;
        let usage = usage_in(&mut tx, owner, is_key, utc_day(now)).await?;
        let submit_tat_ms: Option<i64> = sqlx::query_scalar(
            "SELECT tat_ms FROM rate_limits WHERE owner_id = $1 AND name = 'submit'",
        )
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OwnerUsage {
            usage,
            submit_tat_ms,
        })
    }
}

/// What an owner's limits count, read inside `tx`.
pub(super) async fn usage_in(
    tx: &mut Tx,
    owner: &str,
    is_key: bool,
    day: i64,
) -> StoreResult<seedgate_core::accounts::Usage> {
    static BY_ACCOUNT: &str = "SELECT status, COUNT(*) FROM tasks \
         WHERE account_id = $1 AND status IN ('queued', 'running') GROUP BY status";
    static BY_KEY: &str = "SELECT status, COUNT(*) FROM tasks \
         WHERE api_key_id = $1 AND status IN ('queued', 'running') GROUP BY status";
    let counts: Vec<(String, i64)> = sqlx::query_as(if is_key { BY_KEY } else { BY_ACCOUNT })
        .bind(owner)
        .fetch_all(&mut **tx)
        .await?;
    let count = |status: &str| {
        counts
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
    };
    let (spent_today, spent_this_month, spent_total) = spent(&mut **tx, owner, day).await?;
    Ok(seedgate_core::accounts::Usage {
        queued: count("queued"),
        in_flight: count("queued") + count("running"),
        spent_today,
        spent_this_month,
        spent_total,
    })
}

#[async_trait::async_trait]
impl AdminStore for This {
    async fn create_admin_token(
        &self,
        name: &str,
        token_hash: &str,
        token_prefix: &str,
        role: AdminRole,
        actor: &Actor,
    ) -> StoreResult<AdminTokenRecord> {
        let record = AdminTokenRecord {
            id: AdminTokenId::generate(),
            name: name.to_string(),
            token_prefix: token_prefix.to_string(),
            role,
            created_at_ms: now_ms(),
            revoked_at_ms: None,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO admin_tokens (id, name, token_hash, token_prefix, role, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.as_str())
        .bind(name)
        .bind(token_hash)
        .bind(token_prefix)
        .bind(role.as_str())
        .bind(record.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "a token with this secret"))?;
        audit(
            &mut tx,
            actor,
            "admin_token.create",
            record.id.as_str(),
            NONE,
            Some(&record),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminTokenRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = $1")
        });
        let row: Option<AdminTokenRow> = sqlx::query_as(&SQL)
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.map(AdminTokenRecord::try_from).transpose()
    }

    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at_ms, id")
        });
        let rows: Vec<AdminTokenRow> = sqlx::query_as(&SQL).fetch_all(self.pool()).await?;
        rows.into_iter().map(AdminTokenRecord::try_from).collect()
    }

    async fn revoke_admin_token(
        &self,
        id_or_name: &str,
        actor: &Actor,
    ) -> StoreResult<AdminTokenRecord> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE id = $1 OR name = $1 \
                 ORDER BY created_at_ms"
            )
        });
        let mut tx = self.write_tx().await?;
        let rows: Vec<AdminTokenRow> = sqlx::query_as(&SQL)
            .bind(id_or_name)
            .fetch_all(&mut *tx)
            .await?;
        let before = AdminTokenRecord::try_from(
            one_named(rows, id_or_name, "admin token")?.ok_or(StoreError::NotFound)?,
        )?;
        let now = now_ms();
        sqlx::query(
            "UPDATE admin_tokens SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(before.id.as_str())
        .execute(&mut *tx)
        .await?;
        let after = AdminTokenRecord {
            revoked_at_ms: before.revoked_at_ms.or(Some(now)),
            ..before.clone()
        };
        audit(
            &mut tx,
            actor,
            "admin_token.revoke",
            before.id.as_str(),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn admin_audit(
        &self,
        after_seq: i64,
        limit: u32,
        target: Option<&str>,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT seq, at_ms, actor, action, target, before_json, after_json FROM admin_audit \
             WHERE seq > $1 AND (CAST($2 AS TEXT) IS NULL OR target = $2) ORDER BY seq LIMIT $3",
        )
        .bind(after_seq)
        .bind(target)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}

#[async_trait::async_trait]
impl ServerSecrets for This {
    async fn server_secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        // Read first: once a secret exists (almost always), asking for it takes no write lock,
        // so a command-line tool asking while the server writes does not queue behind it.
        let existing: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        if let Some(value) = existing {
            return Ok(value);
        }
        self.write_one(
            sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(candidate)
            .bind(now_ms()),
        )
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(value)
    }
}
