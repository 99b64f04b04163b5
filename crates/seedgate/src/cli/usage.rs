//! `seedgate usage`: a usage report on stdout, JSON or CSV, written as the rows leave the
//! database, through the same `AdminService::usage_report` as `GET /admin/v1/usage`.

use super::admin_service;
use crate::config::Settings;
use clap::Args;
use futures::StreamExt;
use seedgate_service::usage::{UsageFormat, UsageParams};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Start of the range, inclusive: RFC 3339 (2026-03-01T00:00:00Z) or Unix ms. Default:
    /// the start of the current UTC month.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the range, exclusive: RFC 3339 or Unix ms. Default: now.
    #[arg(long)]
    pub to: Option<String>,
    /// Comma-separated, any of account, key, model, resolution, mode, upstream_account, day,
    /// month. Without it: one row of totals.
    #[arg(long)]
    pub group_by: Option<String>,
    /// Only this account (id or name).
    #[arg(long)]
    pub account: Option<String>,
    /// Only this key (id or name).
    #[arg(long)]
    pub key: Option<String>,
    /// Only this model (canonical id).
    #[arg(long)]
    pub model: Option<String>,
    /// CSV (a header row, then one row per group) instead of JSON.
    #[arg(long)]
    pub csv: bool,
}

pub async fn run(args: UsageArgs, settings: &Settings) -> anyhow::Result<i32> {
    let admin = admin_service(settings).await?;
    let params = UsageParams {
        from: args.from,
        to: args.to,
        group_by: args.group_by,
        format: None,
        account: args.account,
        key: args.key,
        model: args.model,
    };
    let (report, _) = admin.usage_report(&params).await?;
    let format = if args.csv {
        UsageFormat::Csv
    } else {
        UsageFormat::Json
    };
    let mut body = report.into_body(format);
    let mut out = tokio::io::stdout();
    while let Some(chunk) = body.next().await {
        out.write_all(&chunk?).await?;
    }
    if format == UsageFormat::Json {
        out.write_all(b"\n").await?;
    }
    out.flush().await?;
    Ok(0)
}
