//! Settings: built-in defaults < TOML file < `SEEDGATE_*` environment variables < command-line
//! flags. Nested keys in the environment use `__` (`SEEDGATE_WORKER__CONCURRENCY=4`).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use seedgate_core::catalog::ModelOverride;
use seedgate_fetch::FetchConfig;
use seedgate_media::MediaCacheConfig;
use seedgate_providers::LocalConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// Creates a first API key on an empty database; lets media be fetched from private
    /// addresses so local test servers work.
    Development,
    /// Never creates keys by itself; fetches media from public addresses only.
    Production,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub mode: RunMode,
    /// Address to listen on.
    pub listen: String,
    /// Where the SQLite database and media live.
    pub data_dir: PathBuf,
    /// `postgres://…` runs on PostgreSQL (`SEEDGATE_DATABASE_URL`); absent, the embedded
    /// SQLite database in `data_dir`.
    pub database_url: Option<String>,
    /// Base of every URL seedgate hands out; defaults to `http://<listen address>`.
    pub public_base_url: Option<String>,
    pub worker: WorkerSettings,
    pub local: LocalConfig,
    /// The outbound fetcher for user-supplied URLs: private ranges allowed, caps, timeouts.
    pub fetch: FetchConfig,
    /// Fetched-and-probed media remembered by URL.
    pub probe_cache: MediaCacheConfig,
    pub idempotency: IdempotencySettings,
    /// How long finished tasks' media, timelines and idempotency records are kept.
    pub retention: RetentionSettings,
    pub assets: AssetSettings,
    pub auth: AuthSettings,
    /// Callback delivery: retry schedule, timeouts, concurrency.
    pub callbacks: CallbackSettings,
    /// Where results and uploads are kept: local disk under `data_dir` or an S3 bucket.
    pub storage: StorageSettings,
    /// Per-model overrides of the built-in catalog: availability and prices.
    pub models: BTreeMap<String, ModelOverride>,
    /// Upstream accounts (`[[providers]]`). Empty: the built-in local renderer serves
    /// everything.
    pub providers: Vec<ProviderSettings>,
    /// Per canonical model: which accounts, in which order (`[routing."seedance-2.0-mini"]`).
    /// Models without an entry go to every configured account in order.
    pub routing: BTreeMap<String, seedgate_providers::Route>,
    /// How tasks at upstreams are followed: deadline, polling, breaker, result copies.
    pub upstream: UpstreamSettings,
    pub log: LogSettings,
    /// Read deadlines for clients: headers, body gaps, whole requests.
    pub http: crate::http_server::HttpSettings,
    /// Prometheus metrics: where else than the main listener `/metrics` is served.
    pub metrics: crate::observability::MetricsSettings,
    /// The operator webhook and what raises an alert.
    pub alerts: crate::alerting::AlertSettings,
    /// Traces exported over OTLP/HTTP (off unless a collector is named).
    pub telemetry: crate::telemetry::TelemetrySettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub lease_seconds: f64,
    pub max_attempts: u32,
    pub idle_poll_ms: u64,
    pub retry_base_ms: u64,
    /// One attempt longer than this fails the task (refunded) as timed out.
    pub attempt_timeout_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IdempotencySettings {
    /// How long Idempotency-Keys are remembered.
    pub retention_hours: u64,
    /// An in-progress key older than this belongs to a request that died.
    pub stale_after_seconds: u64,
}

/// `[retention]`: what the janitor deletes, and when (see `seedgate_workers::janitor`).
/// A lifetime of 0 keeps things forever. Ledger entries are never deleted; clients' uploaded
/// assets are left alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Days a finished task's media are kept after it finished. The resellers whose APIs
    /// seedgate speaks keep result URLs about 24 h (Ark, Kie, HiAPI); 30 days is well past
    /// anything a client built against them expects, and still keeps the disk from filling.
    /// The files themselves go only once every link handed out has expired
    /// (`storage.url_ttl_seconds`).
    pub media_days: u64,
    /// Days a finished task's timeline events are kept (its row, ledger entries and
    /// callbacks stay: the timeline then shows acceptance, end and money only).
    pub timeline_days: u64,
    /// Hours Idempotency-Key records are kept; unset: `idempotency.retention_hours`.
    pub idempotency_hours: Option<u64>,
    /// Days of daily spend kept for the budgets; never fewer than 40 (the monthly budget
    /// counts the current UTC month).
    pub spend_days: u64,
    /// Seconds between janitor passes.
    pub interval_seconds: u64,
    /// Rows per batch; each batch is one transaction.
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            media_days: 30,
            timeline_days: 90,
            idempotency_hours: None,
            spend_days: 40,
            interval_seconds: 600,
            batch: 500,
        }
    }
}

impl RetentionSettings {
    fn days(days: u64) -> Option<std::time::Duration> {
        (days > 0).then(|| std::time::Duration::from_secs(days.saturating_mul(86_400)))
    }

    /// How long media are kept; `None`: forever.
    pub fn media(&self) -> Option<std::time::Duration> {
        Self::days(self.media_days)
    }

    /// How long timelines are kept; `None`: forever.
    pub fn timelines(&self) -> Option<std::time::Duration> {
        Self::days(self.timeline_days)
    }

    /// How long Idempotency-Key records are kept: this section's setting, else the older
    /// `idempotency.retention_hours`.
    pub fn idempotency(&self, idempotency: &IdempotencySettings) -> std::time::Duration {
        let hours = self
            .idempotency_hours
            .unwrap_or(idempotency.retention_hours);
        std::time::Duration::from_secs(hours.saturating_mul(3600))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// How long a valid API key is remembered in memory; revoking a key takes effect on every
    /// replica within this time.
    pub key_cache_seconds: u64,
    /// Proxies (CIDRs) whose `X-Forwarded-For` names the client, for IP allow-lists; from any
    /// other peer the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a web console session lasts after sign-in (minutes); then the person signs in
    /// again.
    pub console_session_minutes: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            key_cache_seconds: 5,
            trusted_proxies: Vec::new(),
            console_session_minutes: 12 * 60,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// `<data_dir>/media`.
    #[default]
    Local,
    /// An S3-compatible bucket (`[storage.s3]`).
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    pub kind: StorageKind,
    /// Result and asset URLs are signed and live at least this long from when they are handed
    /// out (each read of a task hands out fresh ones). 0: plain URLs that never expire.
    pub url_ttl_seconds: u64,
    /// `bucket`, `endpoint`, `region`, `path_style`, `access_key_id`, `secret_access_key`,
    /// `allow_http`; credentials and region default to the standard AWS variables.
    pub s3: seedgate_blobs::S3Config,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            kind: StorageKind::default(),
            url_ttl_seconds: 7 * 24 * 3600,
            s3: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackSettings {
    /// Seconds to wait before each retry: the n-th entry follows the n-th failed attempt. The
    /// default spans about 75 hours (Standard Webhooks' example schedule).
    pub retry_schedule_seconds: Vec<f64>,
    /// Each delay varies at random by ± this percentage.
    pub jitter_percent: u32,
    /// One attempt's deadline.
    pub attempt_timeout_seconds: f64,
    /// Deliveries in flight per process, and to any one host.
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    /// Deliveries in flight per process for any one account. Unset: a quarter of
    /// `concurrency`, at least one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_account_concurrency: Option<usize>,
    /// How often an idle dispatcher looks for due callbacks.
    pub idle_poll_ms: u64,
    /// How long the previous signing secret keeps signing after a rotation.
    pub rotation_overlap_hours: f64,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        let d = seedgate_workers::callbacks::CallbackConfig::default();
        Self {
            retry_schedule_seconds: d.retry_schedule.iter().map(Duration::as_secs_f64).collect(),
            jitter_percent: d.jitter_percent,
            attempt_timeout_seconds: d.attempt_timeout.as_secs_f64(),
            concurrency: d.concurrency,
            per_host_concurrency: d.per_host,
            per_account_concurrency: None,
            idle_poll_ms: u64::try_from(d.idle_poll.as_millis()).unwrap_or(250),
            rotation_overlap_hours: 24.0,
        }
    }
}

impl CallbackSettings {
    pub fn dispatcher_config(&self) -> anyhow::Result<seedgate_workers::callbacks::CallbackConfig> {
        let seconds = |what: &str, s: f64| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                anyhow::anyhow!("callbacks.{what} must be a non-negative number of seconds")
            })
        };
        Ok(seedgate_workers::callbacks::CallbackConfig {
            retry_schedule: self
                .retry_schedule_seconds
                .iter()
                .map(|s| seconds("retry_schedule_seconds", *s))
                .collect::<anyhow::Result<_>>()?,
            jitter_percent: self.jitter_percent.min(100),
            attempt_timeout: seconds("attempt_timeout_seconds", self.attempt_timeout_seconds)?,
            concurrency: self.concurrency.max(1),
            per_host: self.per_host_concurrency.max(1),
            per_account: self
                .per_account_concurrency
                .unwrap_or(self.concurrency / 4)
                .max(1),
            idle_poll: Duration::from_millis(self.idle_poll_ms.max(1)),
        })
    }

    pub fn rotation_overlap(&self) -> Duration {
        Duration::try_from_secs_f64(self.rotation_overlap_hours * 3600.0).unwrap_or_default()
    }
}

/// One provider account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// Unique; tasks remember it, so renaming an account orphans its running tasks.
    pub name: String,
    /// `ark`, `reapi`, `hiapi`, `apixo`, `crun`, `kie`, or `local` (the built-in renderer).
    pub kind: String,
    /// Scheme and host, e.g. `https://ark.ap-southeast.bytepluses.com`; each kind adds its
    /// own paths.
    pub base_url: Option<String>,
    /// The name of the environment variable holding the key (preferred over `api_key`).
    pub api_key_env: Option<String>,
    /// Never printed by `seedgate config`.
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    /// Canonical model → the upstream's model id. Only these models are sent to the account.
    pub models: BTreeMap<String, String>,
    /// Share of traffic under the `weighted` strategy.
    pub weight: u32,
    /// Tasks the account may run at once, across every replica.
    pub max_concurrent: Option<u64>,
    /// One request to the account (submit, poll) must finish within this.
    pub timeout_seconds: f64,
    pub connect_timeout_seconds: f64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: String::new(),
            base_url: None,
            api_key_env: None,
            api_key: None,
            models: BTreeMap::new(),
            weight: 1,
            max_concurrent: None,
            timeout_seconds: 30.0,
            connect_timeout_seconds: 10.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UpstreamSettings {
    /// A task not finished this long after it was created fails and is refunded.
    pub deadline_seconds: u64,
    /// First poll after this many milliseconds, backing off to `poll_max_ms`.
    pub poll_min_ms: u64,
    pub poll_max_ms: u64,
    /// Polls in flight per account at once.
    pub poll_concurrency: usize,
    /// Tasks one replica follows at upstreams at once.
    pub max_tracked: usize,
    /// Consecutive 429/5xx/connection failures that open an account's circuit breaker, and
    /// how long it stays open before one trial request.
    pub breaker_failures: u32,
    pub breaker_open_seconds: f64,
    /// Whether upstreams are asked to call back `<public_base_url>/upstream/callbacks/…`.
    /// Unset: yes when `public_base_url` is set (upstreams cannot reach a loopback address).
    pub callbacks: Option<bool>,
    /// Tries per result copy before the task fails (refunded), and the first backoff.
    pub rehost_attempts: u32,
    pub rehost_backoff_ms: u64,
    /// Largest result file copied.
    pub rehost_max_bytes: u64,
    /// A submit whose answer was lost is sent again (same account, same Idempotency-Key) this
    /// many times per attempt, the pause doubling from `reconcile_backoff_ms`; still unknown,
    /// the task waits in the queue (in flight, not cancellable) for its next attempt.
    pub reconcile_tries: u32,
    pub reconcile_backoff_ms: u64,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            deadline_seconds: 7200,
            poll_min_ms: 2000,
            poll_max_ms: 15_000,
            poll_concurrency: 16,
            max_tracked: 10_000,
            breaker_failures: 5,
            breaker_open_seconds: 30.0,
            callbacks: None,
            rehost_attempts: 3,
            rehost_backoff_ms: 1000,
            rehost_max_bytes: 2 * 1024 * 1024 * 1024,
            reconcile_tries: 5,
            reconcile_backoff_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AssetSettings {
    /// Bytes of uploads each API key may keep.
    pub quota_bytes_per_key: u64,
    /// Largest single upload (the largest medium accepted is a 50 MB video).
    pub max_upload_bytes: u64,
}

impl Default for AssetSettings {
    fn default() -> Self {
        Self {
            quota_bytes_per_key: 1024 * 1024 * 1024,
            max_upload_bytes: 50 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `seedgate=debug,info`.
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: RunMode::Development,
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./seedgate-data"),
            database_url: None,
            public_base_url: None,
            worker: WorkerSettings::default(),
            local: LocalConfig::default(),
            fetch: FetchConfig::default(),
            probe_cache: MediaCacheConfig::default(),
            idempotency: IdempotencySettings::default(),
            retention: RetentionSettings::default(),
            assets: AssetSettings::default(),
            auth: AuthSettings::default(),
            callbacks: CallbackSettings::default(),
            storage: StorageSettings::default(),
            models: BTreeMap::new(),
            providers: Vec::new(),
            routing: BTreeMap::new(),
            upstream: UpstreamSettings::default(),
            log: LogSettings::default(),
            http: Default::default(),
            metrics: Default::default(),
            alerts: Default::default(),
            telemetry: Default::default(),
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease_seconds: 30.0,
            max_attempts: 3,
            idle_poll_ms: 500,
            retry_base_ms: 2000,
            attempt_timeout_seconds: 7200,
        }
    }
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            retention_hours: 24,
            stale_after_seconds: 300,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// The name of the built-in renderer's account when no `[[providers]]` entry names it.
pub const LOCAL_ACCOUNT: &str = "local";

/// A configured account, ready to build.
#[derive(Debug, Clone)]
pub enum UpstreamOrLocal {
    Local {
        name: String,
        weight: u32,
    },
    Upstream {
        config: seedgate_providers::UpstreamConfig,
        weight: u32,
        max_concurrent: Option<u64>,
    },
}

/// Values given as command-line flags; only those present override.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<RunMode>,
}

/// What stands in for a secret in printed settings.
pub const REDACTED: &str = "REDACTED";

/// A URL without its secrets (the userinfo's password, and `password=`, `sslpassword=`,
/// `secret=`, `token=`, `key=` parameters); a URL that does not parse is hidden whole, since it
/// may be all secret.
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return REDACTED.into();
    };
    if url.password().is_some() && url.set_password(Some(REDACTED)).is_err() {
        return REDACTED.into();
    }
    let secret_parameter = |k: &str| {
        ["password", "sslpassword", "secret", "token", "key"]
            .iter()
            .any(|s| k.eq_ignore_ascii_case(s))
    };
    if url.query_pairs().any(|(k, _)| secret_parameter(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_parameter(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl Settings {
    /// Layers defaults, the config file (if any), the environment and the flags.
    pub fn load(config_file: Option<&Path>, flags: &FlagOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("SEEDGATE_").split("__").ignore(&["config"]))
            .merge(Serialized::defaults(flags));
        let settings: Settings = figment.extract()?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.worker.lease_seconds <= 0.0 || !self.worker.lease_seconds.is_finite() {
            anyhow::bail!("worker.lease_seconds must be positive");
        }
        if self.worker.max_attempts == 0 || self.worker.concurrency == 0 {
            anyhow::bail!("worker.max_attempts and worker.concurrency must be at least 1");
        }
        if self.worker.idle_poll_ms == 0 || self.worker.attempt_timeout_seconds == 0 {
            anyhow::bail!(
                "worker.idle_poll_ms and worker.attempt_timeout_seconds must be positive"
            );
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                anyhow::bail!(
                    "database_url must be a postgres:// URL (SQLite needs none), got {url}"
                );
            }
        }
        if self.storage.kind == StorageKind::S3 && self.storage.s3.bucket.trim().is_empty() {
            anyhow::bail!("storage.kind = \"s3\" needs storage.s3.bucket");
        }
        let callbacks = self.callbacks.dispatcher_config()?;
        if callbacks.attempt_timeout.is_zero() {
            anyhow::bail!("callbacks.attempt_timeout_seconds must be positive");
        }
        self.provider_accounts()?;
        if let Some(url) = &self.public_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("public_base_url must be an http(s) URL, got {url}");
            }
        }
        if self.mode == RunMode::Production
            && self.public_base_url.is_none()
            && self.providers.iter().any(|p| p.kind != "local")
        {
            anyhow::bail!(
                "upstream accounts need public_base_url in production: upstreams fetch the stored \
                 copies of reference media from it (and post callbacks to it), and the listen \
                 address seedgate would use otherwise is not one they can reach"
            );
        }
        if self.mode == RunMode::Production && self.local.instant {
            anyhow::bail!(
                "local.instant serves a tiny placeholder clip for benchmarks and is refused in \
                 production mode"
            );
        }
        Ok(())
    }

    /// These settings with every secret replaced by [`REDACTED`]: what `seedgate config`
    /// prints. (Provider API keys are never serialised at all.)
    pub fn redacted(&self) -> Settings {
        let mut settings = self.clone();
        settings.database_url = settings.database_url.as_deref().map(redact_url);
        if settings.storage.s3.secret_access_key.is_some() {
            settings.storage.s3.secret_access_key = Some(REDACTED.into());
        }
        settings.storage.s3.endpoint = settings.storage.s3.endpoint.as_deref().map(redact_url);
        for provider in &mut settings.providers {
            provider.base_url = provider.base_url.as_deref().map(redact_url);
        }
        settings
    }

    /// The configured upstream accounts, checked: unique names, known kinds, a base URL and a
    /// key for each upstream, routes naming only configured accounts (or `local`).
    pub fn provider_accounts(&self) -> anyhow::Result<Vec<UpstreamOrLocal>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut accounts = Vec::new();
        for p in &self.providers {
            if p.name.trim().is_empty() {
                anyhow::bail!("every [[providers]] entry needs a name");
            }
            if !seen.insert(p.name.clone()) {
                anyhow::bail!("provider name {} is used twice", p.name);
            }
            let seconds = |what: &str, s: f64| {
                Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        anyhow::anyhow!("providers.{what} of {} must be positive", p.name)
                    })
            };
            if p.kind == "local" {
                accounts.push(UpstreamOrLocal::Local {
                    name: p.name.clone(),
                    weight: p.weight,
                });
                continue;
            }
            let kind = seedgate_providers::UpstreamKind::parse(&p.kind).ok_or_else(|| {
                anyhow::anyhow!(
                    "provider {}: kind must be one of {}, local; got {:?}",
                    p.name,
                    seedgate_providers::UpstreamKind::names(),
                    p.kind
                )
            })?;
            let base_url = p
                .base_url
                .clone()
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .ok_or_else(|| anyhow::anyhow!("provider {} needs an http(s) base_url", p.name))?;
            let api_key = match (&p.api_key_env, &p.api_key) {
                (Some(var), _) => std::env::var(var).map_err(|_| {
                    anyhow::anyhow!("provider {}: environment variable {var} is not set", p.name)
                })?,
                (None, Some(key)) => key.clone(),
                (None, None) => anyhow::bail!("provider {} needs api_key_env or api_key", p.name),
            };
            if p.models.is_empty() {
                anyhow::bail!(
                    "provider {} maps no models (models = {{ \"seedance-2.0-mini\" = \"…\" }})",
                    p.name
                );
            }
            accounts.push(UpstreamOrLocal::Upstream {
                config: seedgate_providers::UpstreamConfig {
                    name: p.name.clone(),
                    kind,
                    base_url,
                    api_key,
                    models: p.models.clone(),
                    connect_timeout: seconds("connect_timeout_seconds", p.connect_timeout_seconds)?,
                    request_timeout: seconds("timeout_seconds", p.timeout_seconds)?,
                    first_poll: Duration::from_millis(self.upstream.poll_min_ms),
                },
                weight: p.weight,
                max_concurrent: p.max_concurrent,
            });
        }
        for (model, route) in &self.routing {
            if let Some(missing) = route
                .providers
                .iter()
                .find(|name| !seen.contains(*name) && name.as_str() != LOCAL_ACCOUNT)
            {
                anyhow::bail!(
                    "routing for {model} names provider {missing}, which is not configured"
                );
            }
        }
        Ok(accounts)
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("seedgate.db")
    }

    /// The object store the settings name.
    pub fn blob_store(&self) -> anyhow::Result<seedgate_blobs::BlobStore> {
        Ok(match self.storage.kind {
            StorageKind::Local => seedgate_blobs::BlobStore::local(&self.media_dir())?,
            StorageKind::S3 => seedgate_blobs::BlobStore::s3(&self.storage.s3)?,
        })
    }

    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs_f64(self.worker.lease_seconds)
    }
}
