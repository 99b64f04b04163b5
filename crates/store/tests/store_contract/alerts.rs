//! Operator alerts on both backends: one alert per crossing however many raisers race, a new
//! one only after the last was resolved, budget keys once, and delivery leased and fenced.

use seedgate_store::alerts::{AlertDedupe, AlertDelivery, AlertState, NewAlert};
use seedgate_store::Store;
use std::sync::Arc;
use std::time::Duration;

fn alert(kind: &str, subject: &str, dedupe: AlertDedupe) -> NewAlert {
    NewAlert {
        kind: kind.into(),
        subject: subject.into(),
        message: format!("{kind} on {subject}"),
        figures: serde_json::json!({"balance": 5, "threshold": 10}),
        dedupe,
        deliver: true,
    }
}

async fn racing_raises_make_one_alert_until_it_is_resolved(store: Arc<dyn Store>) {
    let raises = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .raise_alert(&alert("balance_below", "acct_a", AlertDedupe::WhileOpen))
                .await
                .expect("raise")
        })
    });
    let raised: Vec<_> = futures::future::join_all(raises)
        .await
        .into_iter()
        .filter_map(|r| r.expect("join"))
        .collect();
    assert_eq!(raised.len(), 1, "eight racing raisers, one alert");
    assert_eq!(raised[0].figures["threshold"], 10);
    assert_eq!(raised[0].state, AlertState::Pending);
    // Another subject is another alert.
    assert!(store
        .raise_alert(&alert("balance_below", "acct_b", AlertDedupe::WhileOpen))
        .await
        .expect("raise")
        .is_some());
    let open = store.open_alerts(&["balance_below"]).await.expect("open");
    assert_eq!(open.len(), 2, "{open:?}");

    assert_eq!(
        store
            .resolve_alerts("balance_below", "acct_a")
            .await
            .expect("resolve"),
        1
    );
    assert_eq!(
        store
            .resolve_alerts("balance_below", "acct_a")
            .await
            .expect("again"),
        0
    );
    let again = store
        .raise_alert(&alert("balance_below", "acct_a", AlertDedupe::WhileOpen))
        .await
        .expect("raise")
        .expect("the next crossing is a new alert");
    assert_ne!(again.id, raised[0].id);
    let listed = store.list_alerts(None, 10).await.expect("list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].id, again.id, "newest first");
    let resolved = listed.iter().find(|a| a.id == raised[0].id).expect("first");
    assert!(resolved.resolved_at_ms.is_some());
}

async fn a_once_key_raises_once_and_unsent_alerts_are_never_claimed(store: Arc<dyn Store>) {
    let key = || AlertDedupe::Once("monthly@20400:1000:800".into());
    assert!(store
        .raise_alert(&alert("budget_crossed", "acct_a", key()))
        .await
        .expect("raise")
        .is_some());
    assert!(store
        .raise_alert(&alert("budget_crossed", "acct_a", key()))
        .await
        .expect("raise")
        .is_none());
    let mut unsent = alert(
        "budget_crossed",
        "acct_a",
        AlertDedupe::Once("total:5:1000".into()),
    );
    unsent.deliver = false;
    let unsent = store
        .raise_alert(&unsent)
        .await
        .expect("raise")
        .expect("new");
    assert_eq!(unsent.state, AlertState::Unsent);
    let jobs = store
        .claim_alerts("a", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1, "only the one to deliver");
    assert_ne!(jobs[0].alert.id, unsent.id);
}

async fn delivery_is_leased_retried_and_fenced(store: Arc<dyn Store>) {
    let raised = store
        .raise_alert(&alert("breaker_open", "dead", AlertDedupe::WhileOpen))
        .await
        .expect("raise")
        .expect("new");
    let first = store
        .claim_alerts("a", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert!(
        store
            .claim_alerts("b", Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased to one sender"
    );
    let retry_at = seedgate_core::clock::now_ms() + 60_000;
    assert!(store
        .record_alert_attempt(
            &first[0],
            &AlertDelivery::RetryAt {
                at_ms: retry_at,
                error: "receiver answered 500".into()
            }
        )
        .await
        .expect("record"));
    // The same lease cannot record twice.
    assert!(!store
        .record_alert_attempt(&first[0], &AlertDelivery::Delivered)
        .await
        .expect("fenced"));
    assert!(
        store
            .claim_alerts("b", Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty(),
        "not due before its retry time"
    );
    let listed = store.list_alerts(None, 10).await.expect("list");
    assert_eq!(listed[0].id, raised.id);
    assert_eq!(listed[0].attempts, 1);
    assert_eq!(listed[0].next_attempt_at_ms, retry_at);
    assert_eq!(
        listed[0].last_error.as_deref(),
        Some("receiver answered 500")
    );
    assert_eq!(listed[0].state, AlertState::Pending);
}

async fn an_expired_lease_is_claimed_again_and_delivery_recorded(store: Arc<dyn Store>) {
    store
        .raise_alert(&alert("breaker_open", "dead", AlertDedupe::WhileOpen))
        .await
        .expect("raise")
        .expect("new");
    let lost = store
        .claim_alerts("a", Duration::from_millis(1), 10)
        .await
        .expect("claim");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store
        .claim_alerts("b", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1, "an expired lease is claimed again");
    assert!(
        !store
            .record_alert_attempt(&lost[0], &AlertDelivery::Delivered)
            .await
            .expect("fenced"),
        "the first sender lost its lease"
    );
    assert!(store
        .record_alert_attempt(&taken[0], &AlertDelivery::Delivered)
        .await
        .expect("record"));
    let listed = store.list_alerts(None, 10).await.expect("list");
    assert_eq!(listed[0].state, AlertState::Delivered);
    assert_eq!(listed[0].attempts, 1);
    assert!(listed[0].delivered_at_ms.is_some());
    assert!(store
        .claim_alerts("c", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .is_empty());
}

macro_rules! alert_tests {
    ($($backend:ident),*) => {$(
        mod $backend {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_raises_make_one_alert_until_it_is_resolved() {
                crate::backend::$backend().await.run(super::racing_raises_make_one_alert_until_it_is_resolved).await;
            }
            #[tokio::test]
            async fn a_once_key_raises_once_and_unsent_alerts_are_never_claimed() {
                crate::backend::$backend().await.run(super::a_once_key_raises_once_and_unsent_alerts_are_never_claimed).await;
            }
            #[tokio::test]
            async fn delivery_is_leased_retried_and_fenced() {
                crate::backend::$backend().await.run(super::delivery_is_leased_retried_and_fenced).await;
            }
            #[tokio::test]
            async fn an_expired_lease_is_claimed_again_and_delivery_recorded() {
                crate::backend::$backend().await.run(super::an_expired_lease_is_claimed_again_and_delivery_recorded).await;
            }
        }
    )*};
}

alert_tests!(sqlite, postgres);
