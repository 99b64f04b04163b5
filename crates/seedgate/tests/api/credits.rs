//! Credits: the hold at submit, 402 that creates nothing, settlement and refunds, and the
//! ledger audit after a mixed run.

use crate::helpers::{assert_error, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn insufficient_credits_is_402_and_creates_nothing() {
    let app = spawn_app().await;
    let poor = app.create_key("poor", 500).await;
    // 720p × 5 s = 513 credits > 500.
    let r = app
        .submit_as(&poor, &json!({"model": "seedance-2.0-mini", "prompt": "x"}))
        .await;
    let message = assert_error(r, StatusCode::PAYMENT_REQUIRED, 30001).await;
    assert!(
        message.contains("513") && message.contains("500"),
        "{message}"
    );
    assert_eq!(app.balance_of(&poor).await, 500);
    assert!(app
        .store
        .ledger_dump()
        .await
        .expect("dump")
        .tasks
        .is_empty());
    // 480p × 4 s = 190 fits.
    let r = app
        .submit_as(&poor, &json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.balance_of(&poor).await, 310);
}

#[tokio::test]
async fn polling_is_free() {
    let app = spawn_app().await;
    let id = app.submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4})).await;
    app.wait_for_task(&id).await;
    let after_task = app.balance_of(&app.key).await;
    for _ in 0..5 {
        assert_eq!(
            app.get_task_as(&app.key, &id).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.balance_of(&app.key).await, after_task);
}

#[tokio::test]
async fn mixed_run_with_failures_settles_and_refunds_exactly() {
    let app = spawn_app().await;
    let start = app.balance_of(&app.key).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let prompt = if i % 2 == 0 {
            format!("scene {i}")
        } else {
            format!("scene {i} [[seedgate:fail]]")
        };
        ids.push(
            app.submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": prompt, "resolution": "480p", "duration": 4}))
                .await,
        );
    }
    let mut completed = 0;
    for id in &ids {
        let task = app.wait_for_task(id).await;
        match task["status"].as_str() {
            Some("completed") => completed += 1,
            Some("failed") => assert_eq!(task["error"]["code"], 80001),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(completed, 3);
    assert_eq!(
        app.balance_of(&app.key).await,
        start - 3 * 190,
        "only successes are charged"
    );

    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ledger ok"), "{out}");
}

#[tokio::test]
async fn ledger_verify_names_a_broken_entry() {
    // Tampering goes through SQLite's own SQL, so this one runs on SQLite whatever the backend.
    let app = spawn_app_with(|s| s.database_url = None).await;
    let id = app.submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4})).await;
    app.wait_for_task(&id).await;
    assert_eq!(app.ledger_verify().0, 0);
    // Tamper with the books behind the gateway's back: a second, bogus refund.
    sqlx_exec(
        &app,
        &format!("INSERT INTO ledger_entries (account_id, api_key_id, task_id, kind, amount, created_at_ms) SELECT account_id, api_key_id, task_id, 'grant', 190, 0 FROM ledger_entries WHERE task_id = '{id}' AND kind = 'hold'"),
    )
    .await
    .expect_err("the schema refuses a grant bound to a task");
    sqlx_exec(&app, "UPDATE accounts SET balance = balance + 190")
        .await
        .expect("tamper");
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("cached balance equals the sum of entries"),
        "{out}"
    );
}

async fn sqlx_exec(app: &crate::helpers::TestApp, sql: &str) -> Result<(), String> {
    let store = seedgate_store::SqliteStore::open(&app.data_dir.path().join("seedgate.db"))
        .await
        .map_err(|e| e.to_string())?;
    sqlx_query(store.pool(), sql).await
}

async fn sqlx_query(pool: &sqlx::SqlitePool, sql: &str) -> Result<(), String> {
    sqlx::query(sql)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn store_and_verifier_agree_on_a_fresh_key() {
    let app = spawn_app().await;
    let key = app.create_key("fresh", 42).await;
    assert_eq!(app.balance_of(&key).await, 42);
    let dump = app.store.ledger_dump().await.expect("dump");
    assert!(seedgate_core::ledger::verify(&dump.entries, &dump.tasks, &dump.balances).is_empty());
}
