//! Builds the whole application from settings. `serve` and the black-box tests both go through
//! [`Application::build`], so tests run exactly what ships, on a random port.

use crate::config::{RunMode, Settings, UpstreamOrLocal, LOCAL_ACCOUNT};
use anyhow::Context;
use axum::routing::get;
use axum::Router;
use seedgate_core::clock::{Clock, SystemClock};
use seedgate_core::Catalog;
use seedgate_fetch::{AddressPolicy, Fetcher};
use seedgate_media::MediaService;
use seedgate_providers::routing::BreakerConfig;
use seedgate_providers::{
    Account, LocalProvider, Provider, Route, Router as ProviderRouter, UpstreamProvider,
};
use seedgate_service::{auth, GenerationService, MediaLinks, ServiceConfig};
use seedgate_store::{PgStore, SqliteStore, Store};
use seedgate_workers::callbacks::CallbackDispatcher;
use seedgate_workers::polling::PollerConfig;
use seedgate_workers::{TaskWorkers, UpstreamWork, WorkerConfig};
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
    alerts: Arc<seedgate_workers::alerts::AlertsWorker>,
    /// Retention's janitor (`[retention]`).
    janitor: Arc<seedgate_workers::janitor::Janitor>,
    settings: Settings,
    bootstrap_key: Option<String>,
    shutdown: CancellationToken,
    metrics_scrape: crate::observability::Scrape,
    /// `metrics.listen`, when set.
    metrics_listener: Option<TcpListener>,
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

/// The server secret that signs media links.
const MEDIA_LINK_SECRET: &str = "media_links";

/// The server secret that signs web console sessions.
const CONSOLE_SESSION_SECRET: &str = "console_sessions";

/// The server secret that keys upstream callback tokens.
const UPSTREAM_CALLBACK_SECRET: &str = "upstream_callbacks";

fn hex_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Every configured account (the local renderer always among them, as `local` unless a
/// `[[providers]]` entry of kind `local` names it), and the routes between them.
pub fn build_router(settings: &Settings, media: MediaService) -> anyhow::Result<ProviderRouter> {
    let mut local_config = settings.local.clone();
    if local_config.directives.is_none() {
        local_config.directives = Some(settings.mode == RunMode::Development);
    }
    let mut accounts = Vec::new();
    let mut configured = Vec::new();
    for account in settings.provider_accounts()? {
        match account {
            UpstreamOrLocal::Local { name, weight } => {
                configured.push(name.clone());
                let provider = LocalProvider::named(&name, local_config.clone(), media.clone());
                accounts.push(Account::new(Arc::new(provider), weight, None));
            }
            UpstreamOrLocal::Upstream {
                config,
                weight,
                max_concurrent,
            } => {
                configured.push(config.name.clone());
                let provider: Arc<dyn Provider> = Arc::new(
                    UpstreamProvider::new(config)
                        .map_err(|e| anyhow::anyhow!("building a provider: {e}"))?,
                );
                accounts.push(Account::new(provider, weight, max_concurrent));
            }
        }
    }
    if !accounts.iter().any(|a| a.name() == LOCAL_ACCOUNT) {
        let provider = LocalProvider::new(local_config, media);
        accounts.push(Account::new(Arc::new(provider), 1, None));
    }
    // Models without a route go to the configured accounts in order; with none configured,
    // to the local renderer.
    let default_route = Route {
        strategy: Default::default(),
        providers: if configured.is_empty() {
            vec![LOCAL_ACCOUNT.to_string()]
        } else {
            configured
        },
    };
    let upstream = &settings.upstream;
    ProviderRouter::new(
        accounts,
        settings
            .routing
            .iter()
            .map(|(model, route)| (model.clone(), route.clone()))
            .collect(),
        default_route,
        BreakerConfig {
            failure_threshold: upstream.breaker_failures.max(1),
            open_for: Duration::try_from_secs_f64(upstream.breaker_open_seconds)
                .unwrap_or(Duration::from_secs(30)),
        },
    )
    .map_err(|e| anyhow::anyhow!(e))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] reading time from `clock` (tests move it forward).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        // First, so that nothing counted while starting is lost.
        let metrics_handle = crate::observability::recorder();
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
        // Every replica signs and checks media links with the same key.
        let media_links = match settings.storage.url_ttl_seconds {
            0 => None,
            ttl => Some(MediaLinks {
                secret: store
                    .server_secret(MEDIA_LINK_SECRET, &hex_secret())
                    .await?
                    .into_bytes(),
                ttl: Duration::from_secs(ttl),
            }),
        };
        let mut media = MediaService::new(
            fetcher.clone(),
            blobs.clone(),
            &base_url,
            &settings.probe_cache,
        );
        if let Some(links) = &media_links {
            media = media.with_link_check(links.secret.clone(), clock.clone());
        }
        let wake = Arc::new(Notify::new());
        let callback_wake = Arc::new(Notify::new());
        let router = Arc::new(build_router(&settings, media.clone())?);
        // The metrics' scrape and the admin API's upstream view read the accounts too.
        let metrics_scrape = crate::observability::Scrape {
            handle: metrics_handle,
            store: store.clone(),
            router: router.clone(),
            clock: clock.clone(),
        };
        let metrics_listener = match &settings.metrics.listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding metrics.listen {address}"))?,
            ),
            None => None,
        };
        let upstreams_view = crate::admin_api::upstreams::UpstreamsState::new(
            Arc::new(seedgate_service::admin::AdminService::new(
                store.clone(),
                clock.clone(),
            )),
            router.clone(),
            store.clone(),
            &settings,
            &catalog,
        )?;
        let service = Arc::new(
            GenerationService::new(
                store.clone(),
                catalog,
                media,
                ServiceConfig {
                    public_base_url: base_url.clone(),
                    idempotency_stale_after: Duration::from_secs(
                        settings.idempotency.stale_after_seconds,
                    ),
                    asset_quota_bytes: settings.assets.quota_bytes_per_key,
                    key_cache_ttl: Duration::from_secs(settings.auth.key_cache_seconds),
                    media_links: media_links.clone(),
                    // Links to priced reference media outlive every fetch an upstream may make
                    // for the task: past its deadline nobody fetches for it any more.
                    media_copy_ttl: Duration::from_secs(
                        settings
                            .storage
                            .url_ttl_seconds
                            .max(settings.upstream.deadline_seconds.saturating_add(24 * 3600)),
                    ),
                    clock: clock.clone(),
                    trusted_proxies: settings.auth.trusted_proxies.clone(),
                },
            )
            .with_delivery_check(router.clone()),
        );
        follow_changes(&*store, &service, &wake, &callback_wake);
        // Callback URLs go through the same SSRF-safe fetcher (and address policy) as media.
        let callbacks = Arc::new(CallbackDispatcher::new(
            store.clone(),
            fetcher.clone(),
            Arc::new(seedgate_dialects::callbacks::DialectCallbacks::new(
                service.clone(),
            )),
            settings.callbacks.dispatcher_config()?,
            callback_wake,
        ));
        // Upstreams can only call back an address they can reach: by default, only when the
        // operator said where seedgate is reachable.
        let upstream_callbacks = settings
            .upstream
            .callbacks
            .unwrap_or(settings.public_base_url.is_some());
        let callback_secret = store
            .server_secret(UPSTREAM_CALLBACK_SECRET, &hex_secret())
            .await?;
        let upstream = &settings.upstream;
        // The operator webhook goes through the same SSRF-safe fetcher as callbacks.
        let alerts = Arc::new(seedgate_workers::alerts::AlertsWorker::new(
            store.clone(),
            router.clone(),
            fetcher.clone(),
            settings.alerts.worker_config(&*store).await?,
        ));
        // Result URLs are whatever an upstream answered: fetched under the media policy too.
        let rehoster = seedgate_workers::rehost::Rehoster::new(
            blobs.clone(),
            fetcher,
            seedgate_workers::rehost::RehostConfig {
                attempts: upstream.rehost_attempts.max(1),
                backoff: Duration::from_millis(upstream.rehost_backoff_ms),
                max_bytes: upstream.rehost_max_bytes,
                ..Default::default()
            },
        );
        let workers = TaskWorkers::new(
            store.clone(),
            router,
            rehoster,
            WorkerConfig {
                concurrency: settings.worker.concurrency,
                lease: settings.lease(),
                max_attempts: settings.worker.max_attempts,
                idle_poll: Duration::from_millis(settings.worker.idle_poll_ms),
                retry_base: Duration::from_millis(settings.worker.retry_base_ms),
                attempt_timeout: Duration::from_secs(settings.worker.attempt_timeout_seconds),
                clock: clock.clone(),
                upstream: UpstreamWork {
                    deadline: Duration::from_secs(upstream.deadline_seconds.max(1)),
                    poll_min: Duration::from_millis(upstream.poll_min_ms.max(1)),
                    poll_max: Duration::from_millis(
                        upstream.poll_max_ms.max(upstream.poll_min_ms).max(1),
                    ),
                    poller: PollerConfig {
                        concurrency: upstream.poll_concurrency.max(1),
                        ..Default::default()
                    },
                    max_tracked: upstream.max_tracked.max(1),
                    reconcile_tries: upstream.reconcile_tries.max(1),
                    reconcile_backoff: Duration::from_millis(upstream.reconcile_backoff_ms),
                    callback_base_url: upstream_callbacks.then(|| base_url.clone()),
                    callback_secret: callback_secret.into_bytes(),
                    ..Default::default()
                },
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

        // Retention's janitor: files go once every link handed out to them has expired (and
        // every replica's memory of the task's media with them).
        let retention = &settings.retention;
        let link_ttl = Duration::from_secs(settings.storage.url_ttl_seconds)
            .saturating_add(seedgate_service::FINISHED_CACHE_TTL);
        let janitor = Arc::new(seedgate_workers::janitor::Janitor::new(
            store.clone(),
            blobs.clone(),
            seedgate_workers::janitor::JanitorConfig {
                media: retention.media(),
                timelines: retention.timelines(),
                idempotency: retention.idempotency(&settings.idempotency),
                spend_days: i64::try_from(retention.spend_days).unwrap_or(i64::MAX),
                link_ttl,
                // Links to reference copies live as long as `media_copy_ttl` above.
                copy_ttl: Duration::from_secs(
                    settings
                        .storage
                        .url_ttl_seconds
                        .max(settings.upstream.deadline_seconds.saturating_add(24 * 3600)),
                ),
                every: Duration::from_secs(retention.interval_seconds.max(1)),
                batch: retention.batch.max(1),
                clock: clock.clone(),
            },
        ));
        let shutdown = CancellationToken::new();
        let (retention_routes, retention_doc) =
            crate::admin_api::retention::routes(crate::admin_api::retention::RetentionState {
                admin: upstreams_view.admin.clone(),
                janitor: janitor.clone(),
                shutdown: shutdown.clone(),
            });

        let media = Router::new()
            .route("/media/{*key}", get(crate::media::serve))
            .with_state(crate::media::MediaState {
                blobs: blobs.clone(),
                link_secret: media_links.as_ref().map(|l| l.secret.clone()),
                clock: clock.clone(),
                retention: Some(store.clone()),
            });
        // The admin API, under /admin/v1, documented beside the dialects in /openapi.json.
        let (admin, admin_doc) = crate::admin_api::routes(Arc::new(
            seedgate_service::admin::AdminService::new(store.clone(), clock.clone()),
        ));
        // `/metrics` (to admin tokens) and the upstream accounts view, documented as admin
        // routes.
        let (metrics, metrics_doc) =
            crate::observability::guarded_routes(crate::observability::GuardedScrape {
                scrape: metrics_scrape.clone(),
                admin: upstreams_view.admin.clone(),
            });
        // The web console: the same services the APIs and the admin API use.
        let console = seedgate_console::router(seedgate_console::Console {
            service: service.clone(),
            admin: upstreams_view.admin.clone(),
            upstreams: Arc::new(upstreams_view.clone()),
            sessions: Arc::new(seedgate_console::SessionKeys::new(
                store
                    .server_secret(CONSOLE_SESSION_SECRET, &hex_secret())
                    .await?
                    .into_bytes(),
                i64::try_from(settings.auth.console_session_minutes.max(1))
                    .unwrap_or(i64::MAX / 60_000)
                    .saturating_mul(60_000),
                base_url.starts_with("https://"),
            )),
            clock: clock.clone(),
            public_base_url: base_url.clone(),
        });
        let (upstreams, upstreams_doc) = crate::admin_api::upstreams::routes(upstreams_view);
        let mut admin_doc = admin_doc;
        admin_doc.merge(metrics_doc);
        admin_doc.merge(upstreams_doc);
        admin_doc.merge(retention_doc);
        let router = Router::new()
            .merge(
                seedgate_dialects::routes(
                    seedgate_dialects::RouteLimits {
                        max_upload_bytes: usize::try_from(settings.assets.max_upload_bytes)
                            .unwrap_or(usize::MAX),
                    },
                    admin_doc,
                )
                .with_state(service),
            )
            .merge(admin)
            .merge(console)
            .merge(metrics)
            .merge(upstreams)
            .merge(retention_routes)
            .merge(media)
            .merge(crate::upstream_callbacks::routes(workers.clone()))
            .merge(crate::health::routes(store.clone(), blobs.clone()))
            .fallback(seedgate_dialects::route_not_found)
            .method_not_allowed_fallback(seedgate_dialects::method_not_allowed)
            // Innermost, around the handler itself: a client's writes queue ahead of the
            // workers' on the embedded store.
            .layer(axum::middleware::from_fn(
                |request: axum::extract::Request, next: axum::middleware::Next| {
                    seedgate_store::urgent(next.run(request))
                },
            ))
            .layer(axum::middleware::from_fn_with_state(
                settings.http.request_timeout(),
                seedgate_dialects::guard,
            ))
            .layer(axum::middleware::from_fn(
                seedgate_dialects::common::assign_request_id,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                settings.http.body_idle_timeout(),
            ))
            .layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .make_span_with(crate::telemetry::request_span),
            )
            // Outermost, so that every answer is counted (the guard's too); a route layer, so
            // the matched route template is known.
            .layer(axum::middleware::from_fn(crate::observability::track_http));

        Ok(Self {
            listener,
            router,
            base_url,
            store,
            workers,
            callbacks,
            alerts,
            janitor,
            settings,
            bootstrap_key,
            shutdown,
            metrics_scrape,
            metrics_listener,
        })
    }

    /// Where `metrics.listen` serves `/metrics`, as an http URL, when it is set.
    pub fn metrics_url(&self) -> Option<String> {
        let address = self.metrics_listener.as_ref()?.local_addr().ok()?;
        Some(format!("http://{address}/metrics"))
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

    /// Retention's janitor (to run a pass now, as `POST /admin/v1/retention/run` does).
    pub fn janitor(&self) -> Arc<seedgate_workers::janitor::Janitor> {
        self.janitor.clone()
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
        let alerts = tokio::spawn(self.alerts.clone().run(shutdown.clone()));
        let metrics = tokio::spawn(crate::observability::run(
            self.metrics_scrape.clone(),
            self.metrics_listener,
            self.settings.http.clone(),
            shutdown.clone(),
        ));
        let janitor = tokio::spawn(self.janitor.clone().run(shutdown.clone()));
        tracing::info!(url = %self.base_url, listen = %self.settings.listen, "seedgate is serving");
        let result = crate::http_server::serve(
            self.listener,
            self.router,
            &self.settings.http,
            shutdown.clone(),
            Duration::from_secs(30),
        )
        .await;
        shutdown.cancel();
        let _ = workers.await;
        let _ = callbacks.await;
        let _ = alerts.await;
        let _ = metrics.await;
        let _ = janitor.await;
        result.context("HTTP server failed")
    }
}

/// Subscribes this replica to the store's change feed: a task that changed (here or, on
/// PostgreSQL, on any replica) is dropped from the task cache, and workers and the callback
/// dispatcher wake as soon as a commit gives them work instead of on their next tick.
fn follow_changes(
    store: &dyn Store,
    service: &Arc<GenerationService>,
    wake: &Arc<Notify>,
    callback_wake: &Arc<Notify>,
) {
    use seedgate_store::changes::Change;
    // Weak: the feed lives in the store, which the service holds.
    let service = Arc::downgrade(service);
    let (wake, callback_wake) = (wake.clone(), callback_wake.clone());
    store
        .changes()
        .subscribe(Box::new(move |change| match change {
            Change::TasksDue => wake.notify_one(),
            Change::CallbacksDue => callback_wake.notify_one(),
            Change::Task(_) | Change::Resync => {
                if let Some(service) = service.upgrade() {
                    service.task_changed(change);
                }
            }
        }));
}
