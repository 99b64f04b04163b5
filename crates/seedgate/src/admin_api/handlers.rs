//! The admin API's handlers. Each checks the admin token before it reads its path, query or
//! body (those extractors are `Result<…, …Rejection>`, which never reject), so a caller
//! without a valid token learns nothing but that; a request that cannot be read is a 400 in
//! the admin envelope, never a panic.

use super::wire::*;
use super::{authorize, base_document, AdminState, ApiError};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use seedgate_core::accounts::Policy;
use seedgate_store::Changes;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::with_openapi(base_document())
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(account_limits))
        .routes(routes!(list_account_keys, create_key))
        .routes(routes!(grant_credits))
        .routes(routes!(list_keys))
        .routes(routes!(get_key, update_key))
        .routes(routes!(rotate_key))
        .routes(routes!(revoke_key))
        .routes(routes!(audit))
        .routes(routes!(list_tokens))
}

fn ok<T>(body: T) -> Answer<T> {
    Ok((StatusCode::OK, Json(body)))
}

fn created<T>(body: T) -> Answer<T> {
    Ok((StatusCode::CREATED, Json(body)))
}

fn path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(p)| p)
        .map_err(|e| ApiError::invalid(e.body_text()))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(b)| b)
        .map_err(|e| ApiError::invalid(e.body_text()))
}

/// A name given must say something.
fn checked_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    match name {
        Some(n) if n.trim().is_empty() => Err(ApiError::invalid("name: must not be empty")),
        Some(n) if n.len() > 200 => Err(ApiError::invalid("name: at most 200 bytes")),
        other => Ok(other.map(|n| n.trim().to_string())),
    }
}

fn changes(request: UpdateRequest) -> Result<Changes, ApiError> {
    Ok(Changes {
        name: checked_name(request.name)?,
        policy: request.policy,
    })
}

/// Every account.
#[utoipa::path(get, path = "/admin/v1/accounts", tag = "Admin",
    responses((status = 200, body = AdminAccountList),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn list_accounts(
    State(s): State<AdminState>,
    headers: HeaderMap,
) -> Answer<AdminAccountList> {
    authorize(&s, &headers, false).await?;
    let data = s.accounts().await?.into_iter().map(Into::into).collect();
    ok(AdminAccountList { data })
}

/// A new account, with its starting credits (one ledger grant) and policy.
#[utoipa::path(post, path = "/admin/v1/accounts", tag = "Admin", request_body = CreateAccountRequest,
    responses((status = 201, body = AdminAccount),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 409, body = AdminErrorEnvelope),
        (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn create_account(
    State(s): State<AdminState>,
    headers: HeaderMap,
    request: Result<Json<CreateAccountRequest>, JsonRejection>,
) -> Answer<AdminAccount> {
    let actor = authorize(&s, &headers, true).await?;
    let request = body(request)?;
    let name = checked_name(Some(request.name))?.unwrap_or_default();
    let account = s
        .create_account(
            &name,
            &request.policy.unwrap_or_default(),
            request.credits,
            &actor,
        )
        .await?;
    created(account.into())
}

/// An account, by id or name.
#[utoipa::path(get, path = "/admin/v1/accounts/{account}", tag = "Admin",
    params(("account" = String, Path, description = "The account's id or name")),
    responses((status = 200, body = AdminAccount),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn get_account(
    State(s): State<AdminState>,
    headers: HeaderMap,
    account: Result<Path<String>, PathRejection>,
) -> Answer<AdminAccount> {
    authorize(&s, &headers, false).await?;
    ok(s.account(&path(account)?).await?.into())
}

/// Renames an account or replaces its policy.
#[utoipa::path(patch, path = "/admin/v1/accounts/{account}", tag = "Admin",
    request_body = UpdateRequest,
    params(("account" = String, Path, description = "The account's id or name")),
    responses((status = 200, body = AdminAccount),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn update_account(
    State(s): State<AdminState>,
    headers: HeaderMap,
    account: Result<Path<String>, PathRejection>,
    request: Result<Json<UpdateRequest>, JsonRejection>,
) -> Answer<AdminAccount> {
    let actor = authorize(&s, &headers, true).await?;
    let account = path(account)?;
    let changes = changes(body(request)?)?;
    ok(s.update_account(&account, &changes, &actor).await?.into())
}

/// The limits in force on an account and on each of its keys, with their current use.
#[utoipa::path(get, path = "/admin/v1/accounts/{account}/limits", tag = "Admin",
    params(("account" = String, Path, description = "The account's id or name")),
    responses((status = 200, body = AdminLimits),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn account_limits(
    State(s): State<AdminState>,
    headers: HeaderMap,
    account: Result<Path<String>, PathRejection>,
) -> Answer<AdminLimits> {
    authorize(&s, &headers, false).await?;
    ok(s.limits(&path(account)?).await?.into())
}

/// An account's keys, revoked ones included.
#[utoipa::path(get, path = "/admin/v1/accounts/{account}/keys", tag = "Admin",
    params(("account" = String, Path, description = "The account's id or name")),
    responses((status = 200, body = AdminKeyList),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn list_account_keys(
    State(s): State<AdminState>,
    headers: HeaderMap,
    account: Result<Path<String>, PathRejection>,
) -> Answer<AdminKeyList> {
    authorize(&s, &headers, false).await?;
    let account = path(account)?;
    let data = s
        .keys(Some(&account))
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    ok(AdminKeyList { data })
}

/// A new key of an account; its secret is in the answer, this once.
#[utoipa::path(post, path = "/admin/v1/accounts/{account}/keys", tag = "Admin",
    request_body = CreateKeyRequest,
    params(("account" = String, Path, description = "The account's id or name")),
    responses((status = 201, body = AdminIssuedKey),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn create_key(
    State(s): State<AdminState>,
    headers: HeaderMap,
    account: Result<Path<String>, PathRejection>,
    request: Result<Json<CreateKeyRequest>, JsonRejection>,
) -> Answer<AdminIssuedKey> {
    let actor = authorize(&s, &headers, true).await?;
    let account = path(account)?;
    let request = body(request)?;
    let name = checked_name(Some(request.name))?.unwrap_or_default();
    let policy: Policy = request.policy.unwrap_or_default();
    created(s.create_key(&account, &name, &policy, &actor).await?.into())
}

/// Adds credits to an account (a positive amount) or takes them away (a negative one), with
/// a note: exactly one ledger entry. A debit beyond the balance is refused and nothing moves.
#[utoipa::path(post, path = "/admin/v1/accounts/{account}/credits", tag = "Admin",
    request_body = CreditsRequest,
    params(("account" = String, Path, description = "The account's id or name")),
    responses((status = 200, body = AdminBalance),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 402, body = AdminErrorEnvelope), (status = 403, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 409, body = AdminErrorEnvelope),
        (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn grant_credits(
    State(s): State<AdminState>,
    headers: HeaderMap,
    account: Result<Path<String>, PathRejection>,
    request: Result<Json<CreditsRequest>, JsonRejection>,
) -> Answer<AdminBalance> {
    let actor = authorize(&s, &headers, true).await?;
    let account = path(account)?;
    let request = body(request)?;
    let balance = s
        .grant_credits(&account, request.amount, &request.note, &actor)
        .await?;
    ok(AdminBalance { balance })
}

/// Every key of every account, revoked ones included.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "Admin",
    responses((status = 200, body = AdminKeyList),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn list_keys(State(s): State<AdminState>, headers: HeaderMap) -> Answer<AdminKeyList> {
    authorize(&s, &headers, false).await?;
    let data = s.keys(None).await?.into_iter().map(Into::into).collect();
    ok(AdminKeyList { data })
}

/// A key, by id, name or the key itself.
#[utoipa::path(get, path = "/admin/v1/keys/{key}", tag = "Admin",
    params(("key" = String, Path, description = "The key's id or name, or the key itself")),
    responses((status = 200, body = AdminKey),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn get_key(
    State(s): State<AdminState>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
) -> Answer<AdminKey> {
    authorize(&s, &headers, false).await?;
    ok(s.key(&path(key)?).await?.into())
}

/// Renames a key or replaces its policy.
#[utoipa::path(patch, path = "/admin/v1/keys/{key}", tag = "Admin",
    request_body = UpdateRequest,
    params(("key" = String, Path, description = "The key's id or name, or the key itself")),
    responses((status = 200, body = AdminKey),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn update_key(
    State(s): State<AdminState>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
    request: Result<Json<UpdateRequest>, JsonRejection>,
) -> Answer<AdminKey> {
    let actor = authorize(&s, &headers, true).await?;
    let key = path(key)?;
    let changes = changes(body(request)?)?;
    ok(s.update_key(&key, &changes, &actor).await?.into())
}

/// A new secret for a key, in the answer this once; the old secret stops working (within
/// the key cache's lifetime, `auth.key_cache_seconds`).
#[utoipa::path(post, path = "/admin/v1/keys/{key}/rotate", tag = "Admin",
    params(("key" = String, Path, description = "The key's id or name, or the key itself")),
    responses((status = 200, body = AdminIssuedKey),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn rotate_key(
    State(s): State<AdminState>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
) -> Answer<AdminIssuedKey> {
    let actor = authorize(&s, &headers, true).await?;
    ok(s.rotate_key(&path(key)?, &actor).await?.into())
}

/// Revokes a key: it is refused from then on (within the key cache's lifetime).
#[utoipa::path(post, path = "/admin/v1/keys/{key}/revoke", tag = "Admin",
    params(("key" = String, Path, description = "The key's id or name, or the key itself")),
    responses((status = 200, body = AdminKey),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn revoke_key(
    State(s): State<AdminState>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
) -> Answer<AdminKey> {
    let actor = authorize(&s, &headers, true).await?;
    ok(s.revoke_key(&path(key)?, &actor).await?.into())
}

/// The audit log of admin writes, oldest first: who, when, what, and the record before and
/// after.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "Admin", params(AuditQuery),
    responses((status = 200, body = AdminAuditList),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn audit(
    State(s): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Answer<AdminAuditList> {
    authorize(&s, &headers, false).await?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let entries = s
        .audit(
            query.after.unwrap_or(0),
            query.limit.unwrap_or(100),
            query.target.as_deref(),
        )
        .await?;
    let next_after = entries.last().map(|e| e.seq);
    let data = entries.into_iter().map(Into::into).collect();
    ok(AdminAuditList { data, next_after })
}

/// The admin tokens (never their secrets). Tokens are made with
/// `seedgate admin-tokens create`.
#[utoipa::path(get, path = "/admin/v1/tokens", tag = "Admin",
    responses((status = 200, body = AdminTokenList),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn list_tokens(State(s): State<AdminState>, headers: HeaderMap) -> Answer<AdminTokenList> {
    authorize(&s, &headers, false).await?;
    let data = s
        .list_admin_tokens()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    ok(AdminTokenList { data })
}
