//! Logging and tracing: the process's `tracing` subscriber (log lines in text or JSON, on
//! stderr) and, when configured, an OpenTelemetry layer exporting every span over OTLP/HTTP
//! (protobuf). Off by default: without `telemetry.otlp_endpoint` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` no exporter is built and no background thread is started.
//!
//! The spans that matter: `request` (every HTTP request, with its `request_id`), `submit`
//! (the task's acceptance, with its `task_id`), `task` (a worker's attempt: claim, provider
//! create, polls, result copy, settle, with `task_id`), and the outbound calls (`upstream`
//! calls, `fetch`es, `callback` and `alert` deliveries).

use crate::config::LogSettings;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The standard variable naming the collector, honoured when `otlp_endpoint` is not set.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// The OTLP/HTTP collector's base URL, e.g. `http://otel-collector:4318`: spans are posted
    /// to `<base>/v1/traces`. Unset: `OTEL_EXPORTER_OTLP_ENDPOINT`, else no export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans. Unset: `OTEL_SERVICE_NAME`, else `seedgate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

impl TelemetrySettings {
    /// Where spans go: `<base>/v1/traces`, or `None` (no export).
    pub fn traces_endpoint(&self) -> Option<String> {
        let base = self
            .otlp_endpoint
            .clone()
            .or_else(|| std::env::var(OTLP_ENDPOINT_ENV).ok())
            .filter(|e| !e.trim().is_empty())?;
        Some(format!("{}/v1/traces", base.trim().trim_end_matches('/')))
    }

    fn service_name(&self) -> String {
        self.service_name
            .clone()
            .or_else(|| std::env::var("OTEL_SERVICE_NAME").ok())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "seedgate".into())
    }
}

/// What must be flushed before the process exits.
#[must_use = "call shutdown() before exiting, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are being exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still buffered and stops the exporter (blocks up to its timeout).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                eprintln!("seedgate: flushing traces failed: {e}");
            }
        }
    }
}

/// Installs the process's subscriber: log lines per `log` (`RUST_LOG` overrides the filter),
/// and the OTLP exporter when `telemetry` (or the environment) names a collector.
pub fn init(log: &LogSettings, telemetry: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.filter));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if log.format == "json" {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let provider = match telemetry.traces_endpoint() {
        None => None,
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| anyhow::anyhow!("telemetry: building the OTLP exporter: {e}"))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(
                        Resource::builder()
                            .with_service_name(telemetry.service_name())
                            .build(),
                    )
                    .build(),
            )
        }
    };
    // Spans are exported with the log filter's verbosity, so `info` spans (requests, tasks,
    // outbound calls) go out and `debug` ones only when asked for.
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("seedgate"))
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter()))
        .with(otel)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))?;
    Ok(Telemetry { provider })
}

/// The span of one HTTP request: method, path (not the query) and the `request_id` that
/// `assign_request_id` records once it is made.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = tracing::field::Empty,
    )
}
