//! `seedgate tasks …`: the operator's task actions from the command line, through the same
//! `AdminService` methods as `/admin/v1/tasks` (audited as the actor `cli`). A running task
//! cancelled here is stopped upstream by the serving process's worker at its next heartbeat.

use super::{admin_service, cli_actor, print_json};
use crate::config::Settings;
use clap::Subcommand;
use seedgate_service::admin::TaskSearchRequest;

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Search tasks across accounts, newest first; every filter given narrows the search.
    Search {
        /// One status or several, comma-separated (queued, running, succeeded, failed,
        /// cancelled).
        #[arg(long)]
        status: Option<String>,
        /// An account's id or name.
        #[arg(long)]
        account: Option<String>,
        /// A key's id or name.
        #[arg(long)]
        key: Option<String>,
        /// The canonical model id, or the name a client sent.
        #[arg(long)]
        model: Option<String>,
        /// The upstream (provider) account, as configured.
        #[arg(long)]
        upstream_account: Option<String>,
        /// The upstream's own id of the job.
        #[arg(long)]
        upstream_task_id: Option<String>,
        /// Created at or after (Unix ms).
        #[arg(long)]
        created_from_ms: Option<i64>,
        /// Created before (Unix ms).
        #[arg(long)]
        created_before_ms: Option<i64>,
        /// Still queued, created more than this many minutes ago.
        #[arg(long)]
        queued_for_min: Option<u32>,
        /// The cursor printed after the previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Tasks per page (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print the page as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a task whole (any account's), as JSON.
    Show { id: String },
    /// Cancel a queued or running task and release its hold.
    Cancel { id: String },
    /// Give a succeeded task's charge back by hand, once.
    Refund {
        id: String,
        /// Why (required; kept in the ledger and the audit log).
        #[arg(long)]
        note: String,
        /// Credits to give back (default: everything charged).
        #[arg(long)]
        credits: Option<i64>,
    },
    /// Make the task's final callback due again now.
    RedeliverCallback { id: String },
}

pub(super) async fn run(cmd: TasksCommand, settings: &Settings) -> anyhow::Result<i32> {
    let admin = admin_service(settings).await?;
    let actor = cli_actor();
    match cmd {
        TasksCommand::Search {
            status,
            account,
            key,
            model,
            upstream_account,
            upstream_task_id,
            created_from_ms,
            created_before_ms,
            queued_for_min,
            cursor,
            limit,
            json,
        } => {
            let page = admin
                .search_tasks(TaskSearchRequest {
                    status,
                    account,
                    key,
                    model,
                    upstream_account,
                    upstream_task_id,
                    created_from_ms,
                    created_before_ms,
                    queued_for_min,
                    cursor,
                    limit: Some(limit),
                })
                .await?;
            if json {
                print_json(&page)?;
                return Ok(0);
            }
            println!(
                "{:<31} {:<9} {:<31} {:<20} {:>5} {:>3} {:<16} {:>7} {:>7} {:>8}",
                "id",
                "status",
                "account",
                "model",
                "res",
                "s",
                "upstream",
                "price",
                "charged",
                "refunded"
            );
            for o in &page.tasks {
                let t = &o.task;
                println!(
                    "{:<31} {:<9} {:<31} {:<20} {:>5} {:>3} {:<16} {:>7} {:>7} {:>8}",
                    t.id.as_str(),
                    t.status.as_str(),
                    t.account_id.as_str(),
                    t.request.model,
                    t.request.resolution.as_str(),
                    t.request.duration_seconds,
                    t.provider.as_deref().unwrap_or("-"),
                    o.cost.price,
                    o.cost.charged,
                    o.cost.refunded
                );
            }
            if let Some(next) = page.next_before {
                eprintln!("more: --cursor {next}");
            }
        }
        TasksCommand::Show { id } => print_json(&admin.task(&id).await?)?,
        TasksCommand::Cancel { id } => {
            let task = admin.cancel_task(&id, &actor).await?;
            eprintln!(
                "task {} cancelled; {} credits released to {}",
                task.task.id, task.cost.refunded, task.task.account_id
            );
        }
        TasksCommand::Refund { id, note, credits } => {
            let refund = admin.refund_task(&id, credits, &note, &actor).await?;
            eprintln!(
                "task {} refunded: {} credits back to {} (balance {})",
                refund.task_id, refund.credits, refund.account_id, refund.balance
            );
        }
        TasksCommand::RedeliverCallback { id } => {
            admin.redeliver_callback(&id, &actor).await?;
            eprintln!("the final callback of task {id} is due now");
        }
    }
    Ok(0)
}
