//! What operators do: accounts and their keys, policies, credits, admin tokens, the audit
//! log. The admin API and the command line both call this, so a change made either way is
//! checked and recorded the same way.

use crate::accounts::{limits_view, LimitsView};
use crate::auth;
use seedgate_core::accounts::Policy;
use seedgate_core::clock::Clock;
use seedgate_core::AccountId;
use seedgate_store::{
    AccountRecord, Actor, AdminRole, AdminTokenRecord, ApiKeyRecord, AuditEntry, Changes, Store,
    StoreError,
};
use std::sync::Arc;

mod alerts;
mod tasks;
mod timeline;
mod usage;
pub use alerts::MAX_ALERTS_PAGE;
pub use tasks::{TaskSearchRequest, DEFAULT_SEARCH_LIMIT, MAX_NOTE_BYTES, MAX_SEARCH_LIMIT};

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("insufficient credits: the balance is {available}")]
    InsufficientCredits { available: i64 },
    #[error("the admin token is missing, unknown or revoked")]
    Unauthenticated,
    #[error("this admin token may only read")]
    ReadOnly,
    #[error("storage error: {0}")]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AdminError::NotFound("the record".into()),
            StoreError::Conflict(m) => AdminError::Conflict(m),
            StoreError::Revoked => AdminError::Conflict("the key is revoked".into()),
            StoreError::InsufficientCredits { available } => {
                AdminError::InsufficientCredits { available }
            }
            other => AdminError::Store(other),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// A key just created or rotated: the secret is shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    pub key: String,
}

/// An admin token just created: the secret is shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub record: AdminTokenRecord,
    pub token: String,
}

/// An account's limits in force and their current use, with each key's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountLimits {
    pub account: AccountRecord,
    pub usage: LimitsView,
    pub keys: Vec<KeyLimits>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyLimits {
    pub key: ApiKeyRecord,
    pub usage: LimitsView,
}

/// The visible start of every admin token (never accepted as an API key, and the other way
/// round: they live in different tables).
pub const ADMIN_TOKEN_PREFIX: &str = "sg_admin_";

pub struct AdminService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

fn checked(policy: &Policy, for_account: bool) -> AdminResult<()> {
    policy.check(for_account).map_err(AdminError::Invalid)
}

impl AdminService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The admin token presented, if it is valid; a read-only token only when `write` is off.
    pub async fn authenticate(&self, presented: &str, write: bool) -> AdminResult<Actor> {
        self.authenticate_digest(&auth::hash_key(presented), write)
            .await
            .map(|(actor, _)| actor)
    }

    /// [`Self::authenticate`] for a token known by its SHA-256 only (the console's session),
    /// with the token's role.
    pub async fn authenticate_digest(
        &self,
        hash: &str,
        write: bool,
    ) -> AdminResult<(Actor, AdminRole)> {
        let record = self
            .store
            .find_admin_token(hash)
            .await?
            .filter(|t| t.revoked_at_ms.is_none())
            .ok_or(AdminError::Unauthenticated)?;
        if write && record.role != AdminRole::Admin {
            return Err(AdminError::ReadOnly);
        }
        Ok((
            Actor(format!("token:{} ({})", record.id, record.name)),
            record.role,
        ))
    }

    pub async fn create_admin_token(
        &self,
        name: &str,
        role: AdminRole,
        actor: &Actor,
    ) -> AdminResult<IssuedToken> {
        let secret = auth::generate_secret(ADMIN_TOKEN_PREFIX);
        let record = self
            .store
            .create_admin_token(name, &secret.hash, &secret.display_prefix, role, actor)
            .await?;
        Ok(IssuedToken {
            record,
            token: secret.plaintext,
        })
    }

    pub async fn list_admin_tokens(&self) -> AdminResult<Vec<AdminTokenRecord>> {
        Ok(self.store.list_admin_tokens().await?)
    }

    pub async fn revoke_admin_token(
        &self,
        id_or_name: &str,
        actor: &Actor,
    ) -> AdminResult<AdminTokenRecord> {
        Ok(self.store.revoke_admin_token(id_or_name, actor).await?)
    }

    pub async fn create_account(
        &self,
        name: &str,
        policy: &Policy,
        credits: i64,
        actor: &Actor,
    ) -> AdminResult<AccountRecord> {
        checked(policy, true)?;
        if name.trim().is_empty() {
            return Err(AdminError::Invalid("name: must not be empty".into()));
        }
        self.name_is_free(name.trim(), None).await?;
        if credits < 0 {
            return Err(AdminError::Invalid("credits: cannot be negative".into()));
        }
        Ok(self
            .store
            .create_account(name.trim(), policy, credits, actor)
            .await?)
    }

    /// Accounts are found by name as well as by id, so a new name must not be another
    /// account's. (Accounts made before names were checked may share one; finding such an
    /// account by name is then refused as ambiguous, and its id still works.)
    async fn name_is_free(&self, name: &str, renaming: Option<&AccountId>) -> AdminResult<()> {
        match self.store.find_account(name).await {
            Ok(Some(other)) if Some(&other.id) != renaming => Err(AdminError::Conflict(format!(
                "an account named `{name}` exists already ({})",
                other.id
            ))),
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(m)) => Err(AdminError::Conflict(m)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn account(&self, id_or_name: &str) -> AdminResult<AccountRecord> {
        self.store
            .find_account(id_or_name)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("account `{id_or_name}`")))
    }

    pub async fn accounts(&self) -> AdminResult<Vec<AccountRecord>> {
        Ok(self.store.list_accounts().await?)
    }

    pub async fn update_account(
        &self,
        id_or_name: &str,
        changes: &Changes,
        actor: &Actor,
    ) -> AdminResult<AccountRecord> {
        if let Some(policy) = &changes.policy {
            checked(policy, true)?;
        }
        let account = self.account(id_or_name).await?;
        if let Some(name) = &changes.name {
            self.name_is_free(name, Some(&account.id)).await?;
        }
        Ok(self
            .store
            .update_account(&account.id, changes, actor)
            .await?)
    }

    /// A new key of an account.
    pub async fn create_key(
        &self,
        account: &str,
        name: &str,
        policy: &Policy,
        actor: &Actor,
    ) -> AdminResult<IssuedKey> {
        checked(policy, false)?;
        let account = self.account(account).await?;
        let secret = auth::generate_key();
        let record = self
            .store
            .add_api_key(
                &account.id,
                name,
                &secret.hash,
                &secret.display_prefix,
                policy,
                actor,
            )
            .await?;
        Ok(IssuedKey {
            record,
            key: secret.plaintext,
        })
    }

    /// A key by id or name, or by the key itself (`sg_live_…`).
    pub async fn key(&self, id_or_name: &str) -> AdminResult<ApiKeyRecord> {
        if id_or_name.starts_with(auth::KEY_PREFIX) {
            if let Some(c) = self
                .store
                .find_credential(&auth::hash_key(id_or_name))
                .await?
            {
                return Ok(c.key);
            }
        }
        self.store
            .find_api_key(id_or_name)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("key `{id_or_name}`")))
    }

    /// Every key, or one account's.
    pub async fn keys(&self, account: Option<&str>) -> AdminResult<Vec<ApiKeyRecord>> {
        let account = match account {
            Some(a) => Some(self.account(a).await?.id),
            None => None,
        };
        Ok(self.store.list_api_keys(account.as_ref()).await?)
    }

    pub async fn update_key(
        &self,
        id_or_name: &str,
        changes: &Changes,
        actor: &Actor,
    ) -> AdminResult<ApiKeyRecord> {
        if let Some(policy) = &changes.policy {
            checked(policy, false)?;
        }
        let key = self.key(id_or_name).await?;
        Ok(self.store.update_api_key(&key.id, changes, actor).await?)
    }

    /// A new secret for a key; the old one stops working (within the key cache's lifetime).
    pub async fn rotate_key(&self, id_or_name: &str, actor: &Actor) -> AdminResult<IssuedKey> {
        let key = self.key(id_or_name).await?;
        let secret = auth::generate_key();
        let record = self
            .store
            .rotate_api_key(&key.id, &secret.hash, &secret.display_prefix, actor)
            .await?;
        Ok(IssuedKey {
            record,
            key: secret.plaintext,
        })
    }

    pub async fn revoke_key(&self, id_or_name: &str, actor: &Actor) -> AdminResult<ApiKeyRecord> {
        let key = self.key(id_or_name).await?;
        Ok(self.store.revoke_api_key(&key.id, actor).await?)
    }

    /// Adds credits (negative: debits them) with a note: one ledger entry. Returns the
    /// balance after.
    pub async fn grant_credits(
        &self,
        account: &str,
        amount: i64,
        note: &str,
        actor: &Actor,
    ) -> AdminResult<i64> {
        if amount == 0 {
            return Err(AdminError::Invalid("amount: must not be 0".into()));
        }
        if amount.unsigned_abs() > seedgate_core::ledger::MAX_BALANCE.unsigned_abs() {
            return Err(AdminError::Invalid(format!(
                "amount: at most {} credits either way",
                seedgate_core::ledger::MAX_BALANCE
            )));
        }
        if note.trim().is_empty() {
            return Err(AdminError::Invalid("note: say why the credits move".into()));
        }
        let account = self.account(account).await?;
        Ok(self
            .store
            .grant_credits(&account.id, amount, note.trim(), actor)
            .await?)
    }

    /// The limits in force on an account and its keys, with their current use.
    pub async fn limits(&self, account: &str) -> AdminResult<AccountLimits> {
        let account = self.account(account).await?;
        let now = self.clock.now_ms();
        let usage = self
            .store
            .owner_usage(account.id.as_str(), false, now)
            .await?;
        let mut keys = Vec::new();
        for key in self.store.list_api_keys(Some(&account.id)).await? {
            let u = self.store.owner_usage(key.id.as_str(), true, now).await?;
            keys.push(KeyLimits {
                usage: limits_view(&key.policy, &u.usage, u.submit_tat_ms, now),
                key,
            });
        }
        Ok(AccountLimits {
            usage: limits_view(&account.policy, &usage.usage, usage.submit_tat_ms, now),
            account,
            keys,
        })
    }

    pub async fn audit(
        &self,
        after_seq: i64,
        limit: u32,
        target: Option<&str>,
    ) -> AdminResult<Vec<AuditEntry>> {
        Ok(self
            .store
            .admin_audit(after_seq, limit.clamp(1, 1000), target)
            .await?)
    }
}
