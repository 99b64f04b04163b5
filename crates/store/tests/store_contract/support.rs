//! What every test builds from: tasks, keys, assets and callback attempts, and the ledger
//! verifier each test ends with. Written against `&dyn Store`, so any backend will do.

use seedgate_core::ledger::verify;
use seedgate_core::media::{MediaFacts, MediaKind};
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, Task, TaskError, TaskStatus};
use seedgate_core::{AccountId, ApiKeyId, Catalog, GenerationRequest, RequestDraft, TaskId};
use seedgate_store::{AssetRecord, CallbackAttempt, Store};

pub const HOOK: &str = "https://example.com/hook";

pub fn task(key: &ApiKeyId, credits: u64) -> Task {
    task_with_callback(key, credits, None)
}

pub fn task_with_callback(key: &ApiKeyId, credits: u64, callback_url: Option<&str>) -> Task {
    let draft = RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("a cat".into()),
        callback_url: callback_url.map(str::to_string),
        ..Default::default()
    };
    let request = GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid");
    Task {
        id: TaskId::generate(),
        account_id: acct(key),
        api_key_id: key.clone(),
        request,
        requested_model: "seedance-2.0-mini".into(),
        origin_dialect: "reapi".into(),
        status: TaskStatus::Queued,
        price: Price {
            billable_seconds: 5,
            credits,
            micro_usd_per_second: 102_500,
        },
        attempt: 0,
        created_at_ms: seedgate_core::clock::now_ms(),
        updated_at_ms: seedgate_core::clock::now_ms(),
        started_at_ms: None,
        finished_at_ms: None,
        output: None,
        error: None,
        provider: None,
    }
}

/// A new API key with `credits`; `hash` stands in for the key's SHA-256.
pub async fn new_key(store: &dyn Store, name: &str, hash: &str, credits: i64) -> ApiKeyId {
    store
        .create_api_key(name, hash, "sg_", credits)
        .await
        .expect("key")
        .id
}

/// Queues `n` tasks of `credits` each for `key`; their ids, in submission order for a `Vec`.
pub async fn queue_tasks<C: FromIterator<TaskId>>(
    store: &dyn Store,
    key: &ApiKeyId,
    n: usize,
    credits: u64,
) -> C {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let t = task(key, credits);
        store.create_task(&t, None).await.expect("create");
        ids.push(t.id);
    }
    ids.into_iter().collect()
}

/// Who the contract tests say made an admin write.
pub fn actor() -> seedgate_store::Actor {
    seedgate_store::Actor("contract-test".into())
}

/// The account of a key made by [`new_key`] (each has one of its own).
pub fn acct(key: &ApiKeyId) -> AccountId {
    AccountId::for_key(key)
}

pub async fn balance(store: &dyn Store, key: &ApiKeyId) -> i64 {
    store
        .find_account(acct(key).as_str())
        .await
        .expect("find")
        .expect("key")
        .balance
}

pub async fn assert_ledger_clean(store: &dyn Store) {
    let dump = store.ledger_dump().await.expect("dump");
    let violations = verify(&dump.entries, &dump.tasks, &dump.balances);
    assert!(violations.is_empty(), "{violations:?}");
}

pub fn failure() -> TaskError {
    TaskError {
        kind: FailureKind::UpstreamError,
        message: "boom".into(),
    }
}

pub fn attempt(status: Option<u16>) -> CallbackAttempt {
    CallbackAttempt {
        attempt: 0,
        started_at_ms: seedgate_core::clock::now_ms(),
        status,
        latency_ms: 12,
        error: status.is_none().then(|| "connection refused".to_string()),
    }
}

pub fn asset(key: &ApiKeyId, size_bytes: u64) -> AssetRecord {
    let id = format!(
        "asset_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    AssetRecord {
        object_key: format!("assets/{id}.png"),
        id,
        account_id: acct(key),
        api_key_id: key.clone(),
        content_type: "image/png".into(),
        facts: MediaFacts {
            kind: MediaKind::Image,
            format: "png".into(),
            size_bytes,
            width: Some(640),
            height: Some(480),
            duration_seconds: None,
            fps: None,
            codec: None,
        },
        created_at_ms: seedgate_core::clock::now_ms(),
        name: Some("a label".into()),
    }
}
