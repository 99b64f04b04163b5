//! What the admin API reads and answers. The store's records are turned into these (never
//! with a key's or token's hash; a secret only in the one-time `key` of an issued key), so the
//! OpenAPI document describes exactly what is sent.

use seedgate_core::accounts::Policy;
use seedgate_service::admin::{AccountLimits, IssuedKey, KeyLimits};
use seedgate_store::{AccountRecord, AdminTokenRecord, ApiKeyRecord, AuditEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A policy as JSON: `allowed_models`, `ip_allow` (CIDRs), `expires_at_ms`, `labels`, `limits`
/// (`submit_rate` and `request_rate` as `{limit, window_seconds}`, `max_in_flight`,
/// `max_queued`, `daily_budget`, `monthly_budget`, `total_budget`) and, on accounts only,
/// `price_plan` (`{"multiplier": 0.8}` or `{"table": {model: {resolution: {standard,
/// with_reference_video}}}}`). Unknown fields are refused.
fn policy_json(policy: &Policy) -> serde_json::Value {
    serde_json::to_value(policy).unwrap_or_else(|_| serde_json::json!({}))
}

/// The error envelope of every admin answer that is not a success.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminErrorEnvelope {
    pub error: AdminErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminErrorBody {
    /// `unauthenticated`, `read_only`, `not_found`, `invalid_request`, `conflict`,
    /// `insufficient_credits`, `method_not_allowed` or `storage`.
    pub code: String,
    pub message: String,
    /// The request's id, also in the `x-request-id` header.
    pub request_id: String,
}

/// An account: it holds the balance, the budgets, the limits and the tasks of its keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAccount {
    pub id: String,
    pub name: String,
    /// Credits (1 credit = $0.001).
    pub balance: i64,
    /// The account's policy (see the request bodies for its fields).
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub created_at_ms: i64,
}

impl From<AccountRecord> for AdminAccount {
    fn from(a: AccountRecord) -> Self {
        Self {
            id: a.id.to_string(),
            policy: policy_json(&a.policy),
            name: a.name,
            balance: a.balance,
            created_at_ms: a.created_at_ms,
        }
    }
}

/// An API key of an account (its secret is never stored, and never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminKey {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// The visible start of the key, to recognise it.
    pub key_prefix: String,
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub created_at_ms: i64,
    /// Null while the key works.
    pub revoked_at_ms: Option<i64>,
}

impl From<ApiKeyRecord> for AdminKey {
    fn from(k: ApiKeyRecord) -> Self {
        Self {
            id: k.id.to_string(),
            account_id: k.account_id.to_string(),
            policy: policy_json(&k.policy),
            name: k.name,
            key_prefix: k.key_prefix,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
        }
    }
}

/// A key just created or rotated, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminIssuedKey {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub key_prefix: String,
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    /// The key itself (`sg_live_…`). It cannot be read again.
    pub key: String,
}

impl From<IssuedKey> for AdminIssuedKey {
    fn from(issued: IssuedKey) -> Self {
        let k = AdminKey::from(issued.record);
        Self {
            id: k.id,
            account_id: k.account_id,
            name: k.name,
            key_prefix: k.key_prefix,
            policy: k.policy,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
            key: issued.key,
        }
    }
}

/// An admin token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminToken {
    pub id: String,
    pub name: String,
    pub token_prefix: String,
    /// `admin` (reads and writes) or `viewer` (reads only).
    pub role: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl From<AdminTokenRecord> for AdminToken {
    fn from(t: AdminTokenRecord) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            token_prefix: t.token_prefix,
            role: t.role.as_str().to_string(),
            created_at_ms: t.created_at_ms,
            revoked_at_ms: t.revoked_at_ms,
        }
    }
}

/// One admin write: who, when, what, and the record before and after.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    /// `token:adm_… (name)` for the admin API, `cli` for the command line.
    pub actor: String,
    pub action: String,
    /// The id of the record written.
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditEntry> for AdminAuditEntry {
    fn from(e: AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at_ms: e.at_ms,
            actor: e.actor,
            action: e.action,
            target: e.target,
            before: e.before,
            after: e.after,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAccountList {
    pub data: Vec<AdminAccount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminKeyList {
    pub data: Vec<AdminKey>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTokenList {
    pub data: Vec<AdminToken>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAuditList {
    /// Oldest first.
    pub data: Vec<AdminAuditEntry>,
    /// The `seq` of the last entry: pass it as `after` for the next page (null when empty).
    pub next_after: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminBalance {
    /// The account's balance after the change, in credits.
    pub balance: i64,
}

/// One scope's limits and how much of each is in use: the same object a member reads at
/// `GET /api/v1/account`.
pub type AdminUsage = seedgate_dialects::account::LimitsObject;

/// An account's limits in force and their current use, with each key's.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminLimits {
    pub account: AdminAccount,
    pub usage: AdminUsage,
    pub keys: Vec<AdminKeyUsage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminKeyUsage {
    pub key: AdminKey,
    pub usage: AdminUsage,
}

impl From<AccountLimits> for AdminLimits {
    fn from(l: AccountLimits) -> Self {
        Self {
            account: l.account.into(),
            usage: l.usage.into(),
            keys: l
                .keys
                .into_iter()
                .map(|KeyLimits { key, usage }| AdminKeyUsage {
                    key: key.into(),
                    usage: usage.into(),
                })
                .collect(),
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub name: String,
    /// Credits to start with (one grant in the ledger); 0 when absent.
    #[serde(default)]
    pub credits: i64,
    /// The account's policy; an empty one allows everything.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Policy>,
}

/// What changes on an account or a key; an absent field stays as it is. A policy replaces
/// the whole policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Policy>,
}

/// A new key of an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    /// The key's own policy (no `price_plan`: only accounts carry one).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Policy>,
}

/// Credits to add (positive) or to take away (negative), with the reason: one ledger entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsRequest {
    /// Not 0. A debit beyond the balance is refused (402) and nothing moves.
    pub amount: i64,
    /// Why the credits move (required, recorded in the ledger and the audit log).
    pub note: String,
}

/// Which audit entries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries after this `seq` (0 when absent).
    pub after: Option<i64>,
    /// At most this many (1 to 1000; 100 when absent).
    pub limit: Option<u32>,
    /// Only the entries of this record id.
    pub target: Option<String>,
}
