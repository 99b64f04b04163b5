//! What the workers count in the metrics: callback deliveries by outcome, with their duration.
//! (Upstream calls are counted where they are made, by `seedgate_providers::observed`; money
//! and task endings by the store once they commit.)

use seedgate_store::CallbackResolution;
use std::time::Duration;

/// The `outcome` label of a recorded callback attempt.
pub fn callback_outcome(resolution: &CallbackResolution) -> &'static str {
    match resolution {
        CallbackResolution::Delivered => "delivered",
        CallbackResolution::RetryAt(_) => "retry",
        CallbackResolution::Exhausted => "exhausted",
        CallbackResolution::Gone => "gone",
    }
}

/// An attempt whose result was recorded (an attempt fenced out by a lost lease is not).
pub(crate) fn callback_attempt(dialect: &str, resolution: &CallbackResolution, took: Duration) {
    metrics::counter!("seedgate_callback_deliveries_total",
        "dialect" => dialect.to_string(), "outcome" => callback_outcome(resolution))
    .increment(1);
    metrics::histogram!("seedgate_callback_delivery_duration_seconds",
        "dialect" => dialect.to_string())
    .record(took.as_secs_f64());
}
