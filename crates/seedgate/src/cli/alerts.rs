//! `seedgate alerts`: the secret alerts are signed with, and the alerts raised (the same
//! `AdminService::alerts` as `GET /admin/v1/alerts`).

use super::admin_over;
use crate::config::Settings;
use crate::startup::open_store;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Prints the `whsec_…` secret alerts are signed with (`alerts.secret`, or the one
    /// generated and kept in the database), alone on stdout, to verify `webhook-signature`.
    Secret,
    /// The alerts raised, newest first, one JSON object per line.
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn run(command: AlertsCommand, settings: &Settings) -> anyhow::Result<i32> {
    let store = open_store(settings).await?;
    match command {
        AlertsCommand::Secret => {
            println!("{}", settings.alerts.secret(&*store).await?.expose());
        }
        AlertsCommand::List { limit } => {
            for alert in admin_over(store).alerts(None, limit).await? {
                println!("{}", serde_json::to_string(&alert)?);
            }
        }
    }
    Ok(0)
}
