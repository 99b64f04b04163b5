//! Builds the whole application from settings. `serve` and the black-box tests both go through
//! [`Application::build`], so tests run exactly what ships, on a random port.

use crate::config::{RunMode, Settings};
use anyhow::Context;
use axum::routing::get;
use axum::Router;
use seedgate_core::Catalog;
use seedgate_fetch::{AddressPolicy, Fetcher};
use seedgate_gateway::{auth, Gateway, GatewayConfig};
use seedgate_media::MediaService;
use seedgate_providers::LocalProvider;
use seedgate_store::{PgStore, SqliteStore, Store};
use seedgate_workers::callbacks::CallbackDispatcher;
use seedgate_workers::{TaskWorkers, WorkerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Name and credits of the key a development server creates on an empty database.
pub const DEV_KEY_NAME: &str = "development";
pub const DEV_KEY_CREDITS: i64 = 100_000;

pub struct Application {
    listener: TcpListener,
    router: Router,
    base_url: String,
    store: Arc<dyn Store>,
    workers: Arc<TaskWorkers>,
    callbacks: Arc<CallbackDispatcher>,
    settings: Settings,
    bootstrap_key: Option<String>,
    shutdown: CancellationToken,
}

/// Opens the store named by the settings: PostgreSQL for a `database_url`, else the embedded
/// SQLite database in `data_dir`. Either way its migrations run first.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &settings.database_url {
        let store = PgStore::connect(url)
            .await
            .context("connecting to PostgreSQL (database_url)")?;
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let store = SqliteStore::open(&settings.database_path())
        .await
        .with_context(|| format!("opening database {}", settings.database_path().display()))?;
    Ok(Arc::new(store))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = open_store(&settings).await?;
        let blobs = settings.blob_store()?;
        let catalog = Arc::new(Catalog::builtin().with_overrides(&settings.models)?);

        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let local = listener.local_addr()?;
        let base_url = match &settings.public_base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let host = if local.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    local.ip().to_string()
                };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                format!("http://{host}:{}", local.port())
            }
        };

        // Development allows loopback so local media servers work; production allows nothing
        // private unless `fetch.allow_private` says so.
        let default_policy = match settings.mode {
            RunMode::Development => AddressPolicy::development(),
            RunMode::Production => AddressPolicy::production(),
        };
        let fetcher = Fetcher::new(
            settings.fetch.policy(default_policy)?,
            settings.fetch.limits()?,
        )?;
        let media = MediaService::new(
            fetcher.clone(),
            blobs.clone(),
            &base_url,
            &settings.probe_cache,
        );
        let wake = Arc::new(Notify::new());
        let callback_wake = Arc::new(Notify::new());
        let gateway = Arc::new(Gateway::new(
            store.clone(),
            catalog,
            media.clone(),
            GatewayConfig {
                public_base_url: base_url.clone(),
                idempotency_stale_after: Duration::from_secs(
                    settings.idempotency.stale_after_seconds,
                ),
                asset_quota_bytes: settings.assets.quota_bytes_per_key,
                key_cache_ttl: Duration::from_secs(settings.auth.key_cache_seconds),
            },
            wake.clone(),
            callback_wake.clone(),
        ));
        // Callback URLs go through the same SSRF-safe fetcher (and address policy) as media.
        let callbacks = Arc::new(CallbackDispatcher::new(
            store.clone(),
            fetcher,
            Arc::new(seedgate_dialects::callbacks::DialectCallbacks::new(
                gateway.clone(),
            )),
            settings.callbacks.dispatcher_config()?,
            callback_wake,
        ));
        let mut local = settings.local.clone();
        if local.directives.is_none() {
            local.directives = Some(settings.mode == RunMode::Development);
        }
        let provider = Arc::new(LocalProvider::new(local, media));
        let workers = TaskWorkers::new(
            store.clone(),
            provider,
            blobs.clone(),
            WorkerConfig {
                concurrency: settings.worker.concurrency,
                lease: settings.lease(),
                max_attempts: settings.worker.max_attempts,
                idle_poll: Duration::from_millis(settings.worker.idle_poll_ms),
                retry_base: Duration::from_millis(settings.worker.retry_base_ms),
                attempt_timeout: Duration::from_secs(settings.worker.attempt_timeout_seconds),
            },
            wake,
        );

        let bootstrap_key = match settings.mode {
            RunMode::Development if store.count_api_keys().await? == 0 => {
                let key = auth::generate_key();
                store
                    .create_api_key(
                        DEV_KEY_NAME,
                        &key.hash,
                        &key.display_prefix,
                        DEV_KEY_CREDITS,
                    )
                    .await?;
                Some(key.plaintext)
            }
            _ => None,
        };

        let media = Router::new()
            .route("/media/{*key}", get(crate::media::serve))
            .with_state(blobs.clone());
        let router = Router::new()
            .merge(
                seedgate_dialects::routes(seedgate_dialects::RouteLimits {
                    max_upload_bytes: usize::try_from(settings.assets.max_upload_bytes)
                        .unwrap_or(usize::MAX),
                })
                .with_state(gateway),
            )
            .merge(media)
            .merge(crate::health::routes(store.clone(), blobs.clone()))
            .fallback(seedgate_dialects::route_not_found)
            .method_not_allowed_fallback(seedgate_dialects::method_not_allowed)
            .layer(axum::middleware::from_fn(
                seedgate_dialects::common::assign_request_id,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
            .layer(tower_http::trace::TraceLayer::new_for_http());

        Ok(Self {
            listener,
            router,
            base_url,
            store,
            workers,
            callbacks,
            settings,
            bootstrap_key,
            shutdown: CancellationToken::new(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The public base URL: what seedgate puts in the URLs it hands out.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where this process actually listens, as an http URL (differs from `base_url` behind a
    /// proxy).
    pub fn local_url(&self) -> String {
        match self.listener.local_addr() {
            Ok(addr) if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
            Ok(addr) => format!("http://{addr}"),
            Err(_) => self.base_url.clone(),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The API key created on an empty development database, shown once.
    pub fn bootstrap_key(&self) -> Option<&str> {
        self.bootstrap_key.as_deref()
    }

    /// Cancelling this token stops the server gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves HTTP and runs the workers until the shutdown token is cancelled.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        let workers = tokio::spawn(self.workers.clone().run(shutdown.clone()));
        let callbacks = tokio::spawn(self.callbacks.clone().run(shutdown.clone()));
        let housekeeping = tokio::spawn(seedgate_workers::housekeeping(
            self.store.clone(),
            Duration::from_secs(self.settings.idempotency.retention_hours * 3600),
            Duration::from_secs(600),
            shutdown.clone(),
        ));
        tracing::info!(url = %self.base_url, listen = %self.settings.listen, "seedgate is serving");
        let server = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let result = server.await;
        shutdown.cancel();
        let _ = workers.await;
        let _ = callbacks.await;
        let _ = housekeeping.await;
        result.context("HTTP server failed")
    }
}
