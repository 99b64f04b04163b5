//! The `seedgate` binary's library half: configuration, startup (so tests can spawn the whole
//! app on a random port), the media route and the operator commands.

pub mod admin_api;
pub mod alerting;
pub mod bench;
pub mod cli;
pub mod config;
pub mod health;
pub mod http_server;
pub mod media;
pub mod observability;
pub mod startup;
pub mod telemetry;
pub mod upstream_callbacks;
