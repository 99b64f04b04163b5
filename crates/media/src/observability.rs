//! Reference media in the metrics: fetches (from the client's URL, or our own storage for a
//! link to a file of ours), probes, and answers from the cache, with their durations. Labels are
//! the medium's kind, where it came from and a fixed outcome; never its URL.

use seedgate_core::media::MediaKind;
use seedgate_fetch::{FetchError, Fetched};
use std::time::Duration;

fn fetch(kind: MediaKind, source: &'static str, outcome: &'static str, took: Option<Duration>) {
    metrics::counter!("seedgate_media_fetches_total",
        "kind" => kind.as_str(), "source" => source, "outcome" => outcome)
    .increment(1);
    if let Some(took) = took {
        metrics::histogram!("seedgate_media_fetch_duration_seconds",
            "kind" => kind.as_str(), "source" => source)
        .record(took.as_secs_f64());
    }
}

/// The `outcome` of a fetch from a client's URL.
pub fn fetch_outcome(result: &Result<Fetched, FetchError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(
            FetchError::BadScheme(_)
            | FetchError::NoHost
            | FetchError::Forbidden(_)
            | FetchError::InsecureRedirect,
        ) => "refused",
        Err(FetchError::Busy { .. }) => "busy",
        Err(_) => "failed",
    }
}

pub(crate) fn fetched_from(kind: MediaKind, result: &Result<Fetched, FetchError>, took: Duration) {
    fetch(kind, "remote", fetch_outcome(result), Some(took));
}

pub(crate) fn read_own(kind: MediaKind, ok: bool, took: Duration) {
    fetch(kind, "own", if ok { "ok" } else { "failed" }, Some(took));
}

/// The account's share of fetch slots stayed in use: nothing was fetched.
pub(crate) fn busy(kind: MediaKind) {
    fetch(kind, "remote", "busy", None);
}

pub(crate) fn cache_hit(kind: MediaKind) {
    metrics::counter!("seedgate_media_cache_hits_total", "kind" => kind.as_str()).increment(1);
}

pub(crate) fn probed(kind: MediaKind, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "unreadable" };
    metrics::counter!("seedgate_media_probes_total", "kind" => kind.as_str(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("seedgate_media_probe_duration_seconds", "kind" => kind.as_str())
        .record(took.as_secs_f64());
}
