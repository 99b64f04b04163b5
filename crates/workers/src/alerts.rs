//! The alerts worker: looks for the conditions an operator wants to hear about, raises each
//! alert once per crossing, and delivers it to the operator's webhook.
//!
//! Every replica runs one. The conditions are cheap reads (the accounts table, a budget's
//! spend per account that has budgets, the oldest queued and running task, this replica's
//! breakers), and the store raises an alert at most once per crossing whichever replica sees it
//! first (`alerts.dedupe_key`). Delivery is an outbox: each due alert is leased to one sender,
//! signed exactly like a task callback (Standard Webhooks headers, HMAC-SHA256 with the alerts
//! secret), sent through the SSRF-safe fetcher without following redirects, and retried on the
//! schedule (its last delay repeating) until the receiver answers 2xx.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use seedgate_core::accounts::BudgetPeriod;
use seedgate_core::webhook::{self, AttemptOutcome, WebhookSecret};
use seedgate_fetch::{Fetcher, OutboundRequest};
use seedgate_providers::routing::BreakerState;
use seedgate_providers::Router;
use seedgate_store::alerts::{AlertDedupe, AlertDelivery, AlertJob, NewAlert};
use seedgate_store::{AccountRecord, Store, StoreError};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The account label that sets an account's own low-balance threshold (credits), over
/// `alerts.balance_below`.
pub const BALANCE_LABEL: &str = "alerts.balance_below";

pub const BALANCE_BELOW: &str = "balance_below";
pub const BUDGET_CROSSED: &str = "budget_crossed";
pub const BREAKER_OPEN: &str = "breaker_open";
pub const TASKS_QUEUED_TOO_LONG: &str = "tasks_queued_too_long";
pub const TASKS_RUNNING_TOO_LONG: &str = "tasks_running_too_long";

/// The subject of the two waiting-task alerts: the whole queue, not one task (a backlog of
/// thousands raises one alert, with the count and the oldest task).
const QUEUE_SUBJECT: &str = "queue";

#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Where alerts are posted; `None`: they are only recorded (and listed by the admin API).
    pub webhook_url: Option<url::Url>,
    pub secret: WebhookSecret,
    /// How often the conditions are looked at and due alerts sent.
    pub check_interval: Duration,
    /// Alert when an account's balance is below this many credits (an account's
    /// `alerts.balance_below` label overrides it).
    pub balance_below: Option<i64>,
    /// Fractions of a budget (0.8 = 80%) whose crossing alerts, once per budget period.
    pub budget_fractions: Vec<f64>,
    pub queued_longer_than: Option<Duration>,
    pub running_longer_than: Option<Duration>,
    /// Delay before each retry; the last one repeats until the alert is delivered.
    pub retry_schedule: Vec<Duration>,
    pub jitter_percent: u32,
    pub attempt_timeout: Duration,
}

pub struct AlertsWorker {
    store: Arc<dyn Store>,
    router: Arc<Router>,
    fetcher: Fetcher,
    config: AlertsConfig,
    id: String,
    /// Upstream accounts whose breaker this replica saw open. Breakers are per replica: only
    /// the replica that saw one open resolves its alert when it closes again, so a replica
    /// whose own breaker never opened does not resolve (and re-raise) another's.
    seen_open: Mutex<HashSet<String>>,
}

impl AlertsWorker {
    pub fn new(
        store: Arc<dyn Store>,
        router: Arc<Router>,
        fetcher: Fetcher,
        config: AlertsConfig,
    ) -> Self {
        Self {
            store,
            router,
            fetcher,
            config,
            id: format!("alerts-{}", ulid::Ulid::new()),
            seen_open: Mutex::default(),
        }
    }

    /// Checks and delivers every `check_interval` until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.check().await {
                tracing::warn!(error = %e, "checking alert conditions failed");
            }
            if let Err(e) = self.deliver_due().await {
                tracing::warn!(error = %e, "delivering alerts failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.config.check_interval) => {}
            }
        }
    }

    /// Looks at every condition once, raising what crossed and resolving what cleared.
    pub async fn check(&self) -> Result<(), StoreError> {
        let open: HashSet<(String, String)> = self
            .store
            .open_alerts(&[
                BALANCE_BELOW,
                BREAKER_OPEN,
                TASKS_QUEUED_TOO_LONG,
                TASKS_RUNNING_TOO_LONG,
            ])
            .await?
            .into_iter()
            .collect();
        let is_open =
            |kind: &str, subject: &str| open.contains(&(kind.to_owned(), subject.to_owned()));
        let now = seedgate_core::clock::now_ms();

        for account in self.store.list_accounts().await? {
            self.check_balance(&account, &is_open).await?;
            self.check_budgets(&account, now).await?;
        }
        self.check_breakers().await?;
        for (status, kind, longer_than) in [
            (
                "queued",
                TASKS_QUEUED_TOO_LONG,
                self.config.queued_longer_than,
            ),
            (
                "running",
                TASKS_RUNNING_TOO_LONG,
                self.config.running_longer_than,
            ),
        ] {
            let Some(longer_than) = longer_than else {
                continue;
            };
            let since = now - i64::try_from(longer_than.as_millis()).unwrap_or(i64::MAX / 2);
            match self.store.waiting_tasks(status, since).await? {
                Some(waiting) => {
                    let age = (now - waiting.oldest_since_ms).max(0) / 1000;
                    self.raise(
                        kind,
                        QUEUE_SUBJECT,
                        format!(
                            "{} task(s) {status} for longer than {} s; the oldest, {}, for {age} s",
                            waiting.count,
                            longer_than.as_secs(),
                            waiting.oldest_task_id
                        ),
                        serde_json::json!({
                            "count": waiting.count,
                            "threshold_seconds": longer_than.as_secs(),
                            "oldest_task_id": waiting.oldest_task_id,
                            "oldest_age_seconds": age,
                        }),
                        AlertDedupe::WhileOpen,
                    )
                    .await?;
                }
                None if is_open(kind, QUEUE_SUBJECT) => {
                    self.store.resolve_alerts(kind, QUEUE_SUBJECT).await?;
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn check_balance(
        &self,
        account: &AccountRecord,
        is_open: &impl Fn(&str, &str) -> bool,
    ) -> Result<(), StoreError> {
        let threshold = account
            .policy
            .labels
            .get(BALANCE_LABEL)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .or(self.config.balance_below);
        let subject = account.id.as_str();
        match threshold {
            Some(threshold) if account.balance < threshold => {
                self.raise(
                    BALANCE_BELOW,
                    subject,
                    format!(
                        "account {}'s balance is {} credits, below {threshold}",
                        account.name, account.balance
                    ),
                    serde_json::json!({
                        "account_name": account.name,
                        "balance": account.balance,
                        "threshold": threshold,
                    }),
                    AlertDedupe::WhileOpen,
                )
                .await
            }
            // Back above (or no threshold any more): the next fall is a new crossing.
            _ if is_open(BALANCE_BELOW, subject) => {
                self.store.resolve_alerts(BALANCE_BELOW, subject).await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn check_budgets(&self, account: &AccountRecord, now: i64) -> Result<(), StoreError> {
        let budgets: Vec<(BudgetPeriod, u64)> = account.policy.limits.budgets().collect();
        if budgets.is_empty() || self.config.budget_fractions.is_empty() {
            return Ok(());
        }
        let usage = self
            .store
            .owner_usage(account.id.as_str(), false, now)
            .await?
            .usage;
        let today = seedgate_core::accounts::utc_day(now);
        for (period, limit) in budgets {
            let spent = usage.spent(period);
            let (period_start, _) = period.span(today);
            for &fraction in &self.config.budget_fractions {
                // Compared in integers (per mille) so 80% of 1000 is exactly 800.
                let per_mille = (fraction * 1000.0).round() as u64;
                // A zero budget allows nothing: there is no fraction of it to cross.
                if per_mille == 0
                    || limit == 0
                    || spent.saturating_mul(1000) < limit.saturating_mul(per_mille)
                {
                    continue;
                }
                let percent = per_mille as f64 / 10.0;
                // Once per period, fraction and budget: a raised budget can be crossed anew.
                let period_key = match period {
                    BudgetPeriod::Total => "total".to_string(),
                    _ => format!("{}@{period_start}", period.as_str()),
                };
                self.raise(
                    BUDGET_CROSSED,
                    account.id.as_str(),
                    format!(
                        "account {} has spent {spent} of its {} budget of {limit} credits ({percent}% reached)",
                        account.name,
                        period.as_str()
                    ),
                    serde_json::json!({
                        "account_name": account.name,
                        "period": period.as_str(),
                        "budget": limit,
                        "spent": spent,
                        "fraction": fraction,
                    }),
                    AlertDedupe::Once(format!("{period_key}:{limit}:{per_mille}")),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn check_breakers(&self) -> Result<(), StoreError> {
        for account in self.router.accounts() {
            let name = account.name().to_string();
            // Open, or half-open waiting for a trial to succeed: not closed since it opened.
            if account.health.state().state != BreakerState::Closed {
                let first_sight = self
                    .seen_open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone());
                // Raised when this replica sees it open; the store keeps it to one alert while
                // any replica's stays open.
                if first_sight {
                    self.raise(
                        BREAKER_OPEN,
                        &name,
                        format!(
                            "upstream account {name}'s circuit breaker opened: it failed repeatedly and is left out of routing for now"
                        ),
                        serde_json::json!({ "upstream_account": name }),
                        AlertDedupe::WhileOpen,
                    )
                    .await?;
                }
            } else {
                let was_open = self
                    .seen_open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&name);
                if was_open {
                    self.store.resolve_alerts(BREAKER_OPEN, &name).await?;
                }
            }
        }
        Ok(())
    }

    async fn raise(
        &self,
        kind: &str,
        subject: &str,
        message: String,
        figures: serde_json::Value,
        dedupe: AlertDedupe,
    ) -> Result<(), StoreError> {
        let raised = self
            .store
            .raise_alert(&NewAlert {
                kind: kind.to_string(),
                subject: subject.to_string(),
                message,
                figures,
                dedupe,
                deliver: self.config.webhook_url.is_some(),
            })
            .await?;
        if let Some(alert) = raised {
            tracing::warn!(alert = alert.id, kind, subject, "{}", alert.message);
        }
        Ok(())
    }

    /// Sends every alert that is due (leased, so each goes out from one replica at a time).
    pub async fn deliver_due(&self) -> Result<(), StoreError> {
        let Some(url) = &self.config.webhook_url else {
            return Ok(());
        };
        let lease = self.config.attempt_timeout * 2 + Duration::from_secs(5);
        for job in self.store.claim_alerts(&self.id, lease, 32).await? {
            let span = tracing::info_span!("alert.deliver", alert_id = %job.alert.id, kind = %job.alert.kind);
            let outcome = self.attempt(url, &job).instrument(span).await;
            if !self.store.record_alert_attempt(&job, &outcome).await? {
                tracing::warn!(
                    alert = job.alert.id,
                    "alert lease lost; this attempt is not counted"
                );
            }
        }
        Ok(())
    }

    async fn attempt(&self, url: &url::Url, job: &AlertJob) -> AlertDelivery {
        let body = alert_body(&job.alert).to_string().into_bytes();
        let timestamp = seedgate_core::clock::now_ms() / 1000;
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        put("content-type", "application/json".into());
        put(
            "user-agent",
            concat!("seedgate/", env!("CARGO_PKG_VERSION")).into(),
        );
        put("webhook-id", job.alert.id.clone());
        put("webhook-timestamp", timestamp.to_string());
        put(
            "webhook-signature",
            webhook::signature_header(
                std::slice::from_ref(&self.config.secret),
                &job.alert.id,
                timestamp,
                &body,
            ),
        );
        let answer = self
            .fetcher
            .send(OutboundRequest {
                method: Method::POST,
                url: url.clone(),
                headers,
                body: Some(body.into()),
                max_body_bytes: 64 * 1024,
                follow_redirects: false,
                timeout: Some(self.config.attempt_timeout),
            })
            .await;
        let (status, retry_after, error) = match answer {
            Ok(response) => {
                let retry_after = response
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let status = response.status.as_u16();
                (
                    Some(status),
                    retry_after,
                    format!("receiver answered {status}"),
                )
            }
            Err(e) => (None, None, e.to_string()),
        };
        if webhook::classify(status) == AttemptOutcome::Delivered {
            return AlertDelivery::Delivered;
        }
        // An alert is never given up: past the schedule, its last delay repeats.
        let attempts = job.alert.attempts + 1;
        let schedule = &self.config.retry_schedule;
        let step = attempts.min(u32::try_from(schedule.len()).unwrap_or(u32::MAX));
        let delay = webhook::next_delay(
            schedule,
            step,
            self.config.jitter_percent,
            rand::random::<f64>(),
            retry_after,
        )
        .unwrap_or(Duration::from_secs(60));
        tracing::warn!(
            alert = job.alert.id,
            error,
            ?delay,
            "alert delivery failed; retrying"
        );
        AlertDelivery::RetryAt {
            at_ms: seedgate_core::clock::now_ms()
                + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
            error,
        }
    }
}

/// The JSON an alert is posted as (and the signature covers): `id`, `type`, `subject`,
/// `message`, `figures` and `at` (RFC 3339, when it was raised).
pub fn alert_body(alert: &seedgate_store::alerts::AlertRecord) -> serde_json::Value {
    serde_json::json!({
        "id": alert.id,
        "type": alert.kind,
        "subject": alert.subject,
        "message": alert.message,
        "figures": alert.figures,
        "at": chrono::DateTime::<chrono::Utc>::from_timestamp_millis(alert.created_at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_store::alerts::{AlertRecord, AlertState};

    #[test]
    fn the_body_names_type_subject_figures_and_time() {
        let alert = AlertRecord {
            id: "alrt_1".into(),
            kind: BALANCE_BELOW.into(),
            subject: "acct_x".into(),
            message: "low".into(),
            figures: serde_json::json!({"balance": 5, "threshold": 10}),
            created_at_ms: 1_700_000_000_123,
            resolved_at_ms: None,
            state: AlertState::Pending,
            attempts: 0,
            next_attempt_at_ms: 0,
            delivered_at_ms: None,
            last_error: None,
        };
        let body = alert_body(&alert);
        assert_eq!(body["type"], "balance_below");
        assert_eq!(body["subject"], "acct_x");
        assert_eq!(body["figures"]["threshold"], 10);
        assert_eq!(body["at"], "2023-11-14T22:13:20.123Z");
    }
}
