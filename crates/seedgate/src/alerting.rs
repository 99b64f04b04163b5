//! `[alerts]`: the operator webhook and the thresholds of the alerts worker
//! (`seedgate_workers::alerts`).

use anyhow::Context;
use seedgate_core::webhook::WebhookSecret;
use seedgate_store::Store;
use seedgate_workers::alerts::AlertsConfig;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The server secret that signs alerts when `alerts.secret` is not set: generated once, shared
/// by every replica, shown by `seedgate alerts secret`.
pub const ALERTS_SECRET: &str = "alerts_webhook";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertSettings {
    /// Where alerts are posted. Unset: alerts are only recorded (`GET /admin/v1/alerts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The `whsec_…` secret alerts are signed with. Unset: one is generated and kept in the
    /// database (`seedgate alerts secret` prints it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// How often the conditions are checked and due alerts sent.
    pub check_interval_seconds: f64,
    /// Alert when an account's balance falls below this many credits; an account's
    /// `alerts.balance_below` label sets its own. Unset and unlabelled: no balance alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_below: Option<i64>,
    /// Fractions of an account's daily, monthly and total budgets that alert when reached, once
    /// per budget period.
    pub budget_fractions: Vec<f64>,
    /// Alert when tasks have been queued (since they were submitted) longer than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_longer_than_seconds: Option<f64>,
    /// Alert when tasks have been running (since first claimed) longer than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_longer_than_seconds: Option<f64>,
    /// Delay before each retry of a failed delivery; the last one repeats until it arrives.
    pub retry_schedule_seconds: Vec<f64>,
    pub jitter_percent: u32,
    pub attempt_timeout_seconds: f64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            secret: None,
            check_interval_seconds: 15.0,
            balance_below: None,
            budget_fractions: vec![0.8, 1.0],
            queued_longer_than_seconds: None,
            running_longer_than_seconds: None,
            retry_schedule_seconds: vec![5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0],
            jitter_percent: 15,
            attempt_timeout_seconds: 15.0,
        }
    }
}

impl AlertSettings {
    /// The worker's configuration, with the signing secret read (or created) in `store`.
    pub async fn worker_config(&self, store: &dyn Store) -> anyhow::Result<AlertsConfig> {
        let seconds = |what: &str, s: f64| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                anyhow::anyhow!("alerts.{what} must be a non-negative number of seconds")
            })
        };
        let webhook_url = self
            .webhook_url
            .as_deref()
            .map(|u| url::Url::parse(u).context("alerts.webhook_url is not a URL"))
            .transpose()?;
        if let Some(url) = &webhook_url {
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https"),
                "alerts.webhook_url must be http or https"
            );
        }
        for fraction in &self.budget_fractions {
            anyhow::ensure!(
                fraction.is_finite() && *fraction > 0.0 && *fraction <= 10.0,
                "alerts.budget_fractions are fractions of a budget, such as 0.8 and 1.0"
            );
        }
        let mut retry_schedule = self
            .retry_schedule_seconds
            .iter()
            .map(|s| seconds("retry_schedule_seconds", *s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if retry_schedule.is_empty() {
            retry_schedule.push(Duration::from_secs(60));
        }
        Ok(AlertsConfig {
            webhook_url,
            secret: self.secret(store).await?,
            check_interval: seconds("check_interval_seconds", self.check_interval_seconds)?
                .max(Duration::from_millis(50)),
            balance_below: self.balance_below,
            budget_fractions: self.budget_fractions.clone(),
            queued_longer_than: self
                .queued_longer_than_seconds
                .map(|s| seconds("queued_longer_than_seconds", s))
                .transpose()?,
            running_longer_than: self
                .running_longer_than_seconds
                .map(|s| seconds("running_longer_than_seconds", s))
                .transpose()?,
            retry_schedule,
            jitter_percent: self.jitter_percent.min(100),
            attempt_timeout: seconds("attempt_timeout_seconds", self.attempt_timeout_seconds)?,
        })
    }

    /// `alerts.secret`, or the one kept in the database (created by whichever replica asks
    /// first).
    pub async fn secret(&self, store: &dyn Store) -> anyhow::Result<WebhookSecret> {
        let text = match &self.secret {
            Some(secret) => secret.clone(),
            None => {
                store
                    .server_secret(
                        ALERTS_SECRET,
                        &seedgate_workers::callbacks::generate_secret().expose(),
                    )
                    .await?
            }
        };
        WebhookSecret::parse(&text).map_err(|e| anyhow::anyhow!("alerts.secret: {e}"))
    }
}
