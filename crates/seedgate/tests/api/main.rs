//! Black-box tests: each spawns the real application on a random port (or the real binary, for
//! crash and CLI tests) and talks to it over HTTP, as a client would.

mod admin;
mod apixo;
mod ark;
mod callbacks;
mod cli;
mod crash_recovery;
mod credits;
mod cross_dialect;
mod crun;
mod fairness;
mod hardening;
mod helpers;
mod hiapi;
mod idempotency;
mod kie;
mod limits;
mod media_server;
mod openai;
mod openapi;
mod output;
mod reapi_2_5;
mod reapi_auth;
mod reapi_examples;
mod reapi_validation;
mod reference_media;
mod replicas;
mod s3_storage;
mod sdk_retries;
mod tasks;
mod upstreams;
mod workers;
