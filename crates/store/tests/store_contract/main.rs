//! The `Store` trait's guarantees, checked directly on both backends: holds and their single
//! resolution, fencing of lost leases, rescue of expired leases, the balance guard,
//! Idempotency-Key claims, listing and deletion, and the rest of the surface (keys, callbacks,
//! webhook secrets, assets).
//!
//! Each guarantee has one body in `contract.rs`, written against `Arc<dyn Store>`;
//! [`contract_tests!`] runs it as `sqlite::<name>` (a fresh file in a temporary directory) and
//! `postgres::<name>` (a fresh database). What only one backend has stays in `sqlite_only.rs`
//! (group commit) and `postgres_only.rs` (migrations, isolation level, and races between
//! replicas, each a pool of its own on one database).
//!
//! The PostgreSQL server comes from `SEEDGATE_TEST_DATABASE_URL`, e.g.
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres` (PostgreSQL 13 or newer). Without it
//! every PostgreSQL test fails; none is skipped. Each test creates its own database with a random
//! name and drops it at the end (even when it fails), so tests run in parallel.

/// For each `#[attributes] name` (a function of the module it is invoked in), a test of that
/// name in a module per backend, on a fresh store of that backend. Defined before the modules
/// that use it: `macro_rules!` is in scope only after its definition.
macro_rules! on_both_backends {
    ($($(#[$attr:meta])+ $name:ident),* $(,)?) => {
        mod sqlite {
            $( $(#[$attr])+ async fn $name() {
                crate::backend::sqlite().await.run(super::$name).await;
            } )*
        }
        mod postgres {
            $( $(#[$attr])+ async fn $name() {
                crate::backend::postgres().await.run(super::$name).await;
            } )*
        }
    };
}

mod alerts;
mod backend;
mod changes;
mod contract;
mod operator_tasks;
mod postgres_only;
mod retention;
mod sqlite_only;
mod support;
mod timeline;
mod upgrade;
mod usage;

/// For each `#[attributes] name` (a function of `contract`), a test of that name in a module per
/// backend, which runs the body on a fresh store of that backend. A body left out of the list is
/// never called, which the `dead_code` lint reports.
macro_rules! contract_tests {
    (@backend $backend:ident; $($(#[$attr:meta])+ $name:ident),* $(,)?) => {
        mod $backend {
            $(
                $(#[$attr])+
                async fn $name() {
                    crate::backend::$backend()
                        .await
                        .run(crate::contract::$name)
                        .await;
                }
            )*
        }
    };
    ($($tests:tt)*) => {
        contract_tests!(@backend sqlite; $($tests)*);
        contract_tests!(@backend postgres; $($tests)*);
    };
}

contract_tests! {
    #[tokio::test] a_submit_intent_survives_a_crash_until_the_upstream_job_is_recorded,
    #[tokio::test] a_deferred_task_keeps_its_attempt_and_waits,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)] a_server_secret_is_created_once_and_shared,
    #[tokio::test] hold_then_settle_and_hold_then_release,
    #[tokio::test] balance_guard_refuses_overdraft_and_creates_nothing,
    #[tokio::test] expired_lease_is_rescued_and_the_stale_worker_is_fenced,
    #[tokio::test] a_task_out_of_attempts_is_failed_and_refunded_by_the_rescuer,
    #[tokio::test] cancel_releases_a_queued_task_once,
    #[tokio::test] idempotency_claims_replay_conflict_and_mismatch,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_submits_never_overdraw,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    a_refused_submit_among_concurrent_ones_leaves_the_others_whole,
    #[tokio::test] listing_filters_orders_pages_and_counts,
    #[tokio::test] only_finished_tasks_can_be_deleted_and_then_they_are_gone,
    #[tokio::test] api_keys_grants_and_revocation,
    #[tokio::test] retries_releases_and_provider_jobs_survive_a_reclaim,
    #[tokio::test] a_queued_task_out_of_attempts_is_failed_not_claimed,
    #[tokio::test] callbacks_are_written_with_the_terminal_state_and_fenced_by_lease,
    #[tokio::test] an_expired_callback_lease_is_reclaimed_and_the_old_one_fenced,
    #[tokio::test] webhook_secrets_are_ensured_once_and_rotated_with_overlap,
    #[tokio::test] assets_respect_the_per_key_quota,
    #[tokio::test] old_idempotency_records_are_pruned,
    #[tokio::test] a_task_whose_submit_is_unknown_cannot_be_cancelled,
    #[tokio::test] budgets_count_holds_and_give_back_refunds,
    #[tokio::test] in_flight_queued_and_submit_rate_limits_refuse_without_writing,
    #[tokio::test] queued_work_is_claimed_round_the_accounts,
    #[tokio::test] a_batch_claim_takes_in_one_go_what_single_claims_would,
    #[tokio::test] ark_tasks_queue_a_callback_per_status_change_once,
    #[tokio::test] queue_gauges_count_queued_due_running_and_pending_callbacks,
    #[tokio::test] tasks_are_loaded_in_one_batch_and_unknown_ids_are_left_out,
}
