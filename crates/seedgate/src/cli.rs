//! The command line: `serve`, `config`, `accounts`, `keys`, `credits`, `admin-tokens`,
//! `usage`, `ledger verify`, `migrate`. The account, key, credit and token commands call the same
//! `AdminService` as the admin API, recorded in the audit log as the actor `cli`.

use crate::config::{FlagOverrides, RunMode, Settings};
use crate::startup::{open_store, Application};
use clap::{Args, Parser, Subcommand};
use seedgate_core::accounts::Policy;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole, Changes};
use std::path::PathBuf;
use std::sync::Arc;

mod alerts;
pub use alerts::AlertsCommand;
pub mod backup;
pub use backup::{BackupArgs, RestoreArgs};
pub mod generate;
pub use generate::GenerateArgs;
mod tasks;
pub use tasks::TasksCommand;
mod usage;
pub use usage::UsageArgs;

#[derive(Debug, Parser)]
#[command(
    name = "seedgate",
    version,
    about = "A self-hosted service for Seedance video generation"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "SEEDGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the database and media live (default ./seedgate-data).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and run the workers.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Base of the URLs seedgate hands out (default http://<listen>).
        #[arg(long)]
        public_base_url: Option<String>,
        /// development or production.
        #[arg(long, value_parser = parse_mode)]
        mode: Option<RunMode>,
    },
    /// Print the effective settings.
    Config,
    /// Manage accounts (they hold balances, budgets, limits and tasks).
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the admin API's tokens (which are not API keys).
    #[command(subcommand, name = "admin-tokens")]
    AdminTokens(AdminTokensCommand),
    /// Manage credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// Search tasks across accounts; cancel, refund by hand, redeliver callbacks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Usage over a time range (credits, billable seconds, task counts), grouped; JSON or CSV.
    Usage(UsageArgs),
    /// Audit the credit ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The operator alerts: their signing secret, and the alerts raised.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Copy the SQLite database and the media into a new backup directory while seedgate
    /// keeps serving (embedded deployments; PostgreSQL and S3: see the README).
    Backup(BackupArgs),
    /// Bring a backup back into an empty data dir.
    Restore(RestoreArgs),
    /// Generate a video on any seedgate over HTTP (a client: uploads local files, waits,
    /// downloads); the exit code says what happened (see --help).
    Generate(GenerateArgs),
    /// Inspect the configured upstream accounts.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Measure seedgate against a bare baseline on this machine and write BENCHMARKS.md.
    Bench {
        /// Measured seconds per load scenario (after a 1 s warm-up).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Tasks held in flight for the memory figure.
        #[arg(long, default_value_t = 10_000)]
        in_flight: usize,
        /// Samples of completion-to-visible latency.
        #[arg(long, default_value_t = 200)]
        visible_samples: usize,
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        /// Run one group of scenarios only (`api`: polls, submits and completion → visible
        /// beside the baseline; `callbacks`: deliveries per second and commit → callback;
        /// `console`: the web console's pages with 100,000 tasks stored; `media`: a 50 MB MP4 beside
        /// nginx; `drain`: 10,000 queued tasks drained to an upstream; `history`: an empty
        /// database against 1,000,000 stored tasks; `postgres`: submits and polls on the
        /// PostgreSQL server `SEEDGATE_BENCH_DATABASE_URL` names) and write only its figures to
        /// `--out`; by default, all of them (PostgreSQL when that variable is set).
        #[arg(long)]
        only: Option<crate::bench::Only>,
    },
    /// The benchmark's baseline server (used by `bench`).
    #[command(hide = true)]
    BenchBaseline {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        get_body: PathBuf,
        #[arg(long)]
        post_body: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Verify every configured account: its key is accepted and each mapped model is open to
    /// it. Nothing is created upstream. Exits 1 if any account fails.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account; prints its id alone on stdout.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        credits: i64,
        /// The policy as JSON: allowed_models, ip_allow, expires_at_ms, labels, limits,
        /// price_plan (see the README).
        #[arg(long)]
        policy: Option<String>,
    },
    /// List accounts with their balances.
    List,
    /// Print an account's limits and their current use (and its keys'), as JSON.
    Show { account: String },
    /// Change an account's name or replace its policy.
    Update {
        account: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        policy: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTokensCommand {
    /// Create an admin token; prints it alone on stdout (only its SHA-256 is stored).
    Create {
        #[arg(long)]
        name: String,
        /// `admin` (read and write) or `viewer` (read only).
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: AdminRole,
    },
    List,
    /// Revoke a token by id or name.
    Revoke {
        token: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints the key alone on stdout (only its SHA-256 is stored). Without
    /// `--account`, the key gets an account of its own, named like it, holding `--credits`.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        credits: i64,
        /// Add the key to this existing account (id or name).
        #[arg(long, conflicts_with = "credits")]
        account: Option<String>,
        /// The key's own policy as JSON (as an account's, without price_plan).
        #[arg(long)]
        policy: Option<String>,
    },
    /// List keys, every account's or one's.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key by id or name.
    Revoke { key: String },
    /// Replace a key's secret; prints the new key alone on stdout.
    Rotate { key: String },
    /// Change a key's name or replace its policy.
    Update {
        key: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        policy: Option<String>,
    },
    /// Print a key's callback signing secret (`whsec_…`) alone on stdout, creating it if the
    /// key has none. With `--rotate`, a new secret replaces it; the old one keeps signing for
    /// `callbacks.rotation_overlap_hours` so receivers can switch without losing a callback.
    WebhookSecret {
        /// The API key itself (`sg_live_…`), or its id or name.
        #[arg(long)]
        key: String,
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add credits to an account (negative to remove): one ledger entry.
    Grant {
        /// Account id or name, or a key's (its account is credited).
        key: String,
        #[arg(allow_hyphen_values = true)]
        amount: i64,
        #[arg(long, default_value = "operator grant")]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every ledger invariant; exits non-zero naming the broken entries.
    Verify,
}

fn parse_role(s: &str) -> Result<AdminRole, String> {
    AdminRole::parse(s).ok_or_else(|| format!("`{s}`: expected admin or viewer"))
}

fn parse_policy(json: Option<&str>) -> anyhow::Result<Option<Policy>> {
    json.map(|j| serde_json::from_str(j).map_err(|e| anyhow::anyhow!("--policy: {e}")))
        .transpose()
}

fn cli_actor() -> Actor {
    Actor("cli".into())
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn parse_mode(s: &str) -> Result<RunMode, String> {
    match s {
        "development" => Ok(RunMode::Development),
        "production" => Ok(RunMode::Production),
        other => Err(format!(
            "unknown mode `{other}` (development or production)"
        )),
    }
}

impl Cli {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut flags = FlagOverrides {
            data_dir: self.common.data_dir.clone(),
            ..Default::default()
        };
        if let Command::Serve {
            listen,
            public_base_url,
            mode,
        } = &self.command
        {
            flags.listen = listen.clone();
            flags.public_base_url = public_base_url.clone();
            flags.mode = *mode;
        }
        Settings::load(self.common.config.as_deref(), &flags)
    }
}

/// Runs a command; the exit code is the process's.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve { .. } => {
            let app = Application::build(settings).await?;
            if let Some(key) = app.bootstrap_key() {
                println!(
                    "Created a development API key with {} credits (shown once):",
                    crate::startup::DEV_KEY_CREDITS
                );
                println!("{key}");
            }
            let token = app.shutdown_token();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down");
                token.cancel();
            });
            app.run_until_stopped().await?;
            Ok(0)
        }
        Command::Bench {
            seconds,
            connections,
            in_flight,
            visible_samples,
            out,
            only,
        } => {
            crate::bench::run(crate::bench::BenchArgs {
                seconds,
                connections,
                in_flight,
                visible_samples,
                out,
                only,
            })
            .await?;
            Ok(0)
        }
        Command::BenchBaseline {
            listen,
            get_body,
            post_body,
        } => {
            let get_body = std::fs::read(get_body)?;
            let post_body = std::fs::read(post_body)?;
            crate::bench::serve_baseline(&listen, get_body.into(), post_body.into()).await?;
            Ok(0)
        }
        Command::Config => {
            print!("{}", toml::to_string_pretty(&settings.redacted())?);
            Ok(0)
        }
        Command::Providers(ProvidersCommand::Check) => check_providers(&settings).await,
        Command::Migrate => {
            open_store(&settings).await?;
            eprintln!(
                "database schema is up to date: {}",
                match &settings.database_url {
                    Some(_) => "PostgreSQL (database_url)".to_string(),
                    None => settings.database_path().display().to_string(),
                }
            );
            Ok(0)
        }
        Command::Accounts(cmd) => {
            let admin = admin_service(&settings).await?;
            let actor = cli_actor();
            match cmd {
                AccountsCommand::Create {
                    name,
                    credits,
                    policy,
                } => {
                    let policy = parse_policy(policy.as_deref())?.unwrap_or_default();
                    let account = admin
                        .create_account(&name, &policy, credits, &actor)
                        .await?;
                    eprintln!(
                        "created account {} ({}) with {} credits",
                        account.id, account.name, account.balance
                    );
                    println!("{}", account.id);
                }
                AccountsCommand::List => {
                    println!("{:<32} {:<24} {:>12}", "id", "name", "balance");
                    for a in admin.accounts().await? {
                        println!("{:<32} {:<24} {:>12}", a.id, a.name, a.balance);
                    }
                }
                AccountsCommand::Show { account } => print_json(&admin.limits(&account).await?)?,
                AccountsCommand::Update {
                    account,
                    name,
                    policy,
                } => {
                    let changes = Changes {
                        name,
                        policy: parse_policy(policy.as_deref())?,
                    };
                    print_json(&admin.update_account(&account, &changes, &actor).await?)?;
                }
            }
            Ok(0)
        }
        Command::AdminTokens(cmd) => {
            let admin = admin_service(&settings).await?;
            let actor = cli_actor();
            match cmd {
                AdminTokensCommand::Create { name, role } => {
                    let issued = admin.create_admin_token(&name, role, &actor).await?;
                    eprintln!(
                        "created admin token {} ({}, {})",
                        issued.record.id,
                        issued.record.name,
                        role.as_str()
                    );
                    println!("{}", issued.token);
                }
                AdminTokensCommand::List => {
                    for t in admin.list_admin_tokens().await? {
                        let status = if t.revoked_at_ms.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{:<32} {:<20} {:<8} {}…  {status}",
                            t.id,
                            t.name,
                            t.role.as_str(),
                            t.token_prefix
                        );
                    }
                }
                AdminTokensCommand::Revoke { token } => {
                    let t = admin.revoke_admin_token(&token, &actor).await?;
                    eprintln!("revoked admin token {} ({})", t.id, t.name);
                }
            }
            Ok(0)
        }
        Command::Keys(cmd) => {
            let store = open_store(&settings).await?;
            let admin = admin_over(store.clone());
            let actor = cli_actor();
            match cmd {
                KeysCommand::Create {
                    name,
                    credits,
                    account,
                    policy,
                } => {
                    if credits < 0 {
                        anyhow::bail!("--credits cannot be negative");
                    }
                    let policy = parse_policy(policy.as_deref())?.unwrap_or_default();
                    let account = match account {
                        Some(account) => account,
                        None => admin
                            .create_account(&name, &Policy::default(), credits, &actor)
                            .await
                            .map_err(|e| {
                                anyhow::anyhow!(
                                    "{e}; to add a key to that account use --account {name}"
                                )
                            })?
                            .id
                            .to_string(),
                    };
                    let issued = admin.create_key(&account, &name, &policy, &actor).await?;
                    let balance = admin.account(&account).await?.balance;
                    eprintln!(
                        "created key {} ({}) in account {} with {balance} credits",
                        issued.record.id, issued.record.name, issued.record.account_id
                    );
                    println!("{}", issued.key);
                }
                KeysCommand::List { account } => {
                    println!(
                        "{:<32} {:<32} {:<20} {:<14}  status",
                        "id", "account", "name", "prefix"
                    );
                    for k in admin.keys(account.as_deref()).await? {
                        let status = if k.revoked_at_ms.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{:<32} {:<32} {:<20} {:<14}  {status}",
                            k.id,
                            k.account_id,
                            k.name,
                            format!("{}…", k.key_prefix),
                        );
                    }
                }
                KeysCommand::WebhookSecret { key, rotate } => {
                    let record = admin.key(&key).await?;
                    let fresh = seedgate_workers::callbacks::generate_secret().expose();
                    let secret = if rotate {
                        store
                            .rotate_webhook_secret(
                                &record.id,
                                &fresh,
                                settings.callbacks.rotation_overlap(),
                            )
                            .await?;
                        eprintln!(
                            "rotated the signing secret of key {} ({}); the previous one signs too for {} h",
                            record.id, record.name, settings.callbacks.rotation_overlap_hours
                        );
                        fresh
                    } else {
                        store.ensure_webhook_secret(&record.id, &fresh).await?
                    };
                    println!("{secret}");
                }
                KeysCommand::Revoke { key } => {
                    let record = admin.revoke_key(&key, &actor).await?;
                    eprintln!("revoked key {} ({})", record.id, record.name);
                }
                KeysCommand::Rotate { key } => {
                    let issued = admin.rotate_key(&key, &actor).await?;
                    eprintln!(
                        "rotated key {} ({}); the old key no longer works",
                        issued.record.id, issued.record.name
                    );
                    println!("{}", issued.key);
                }
                KeysCommand::Update { key, name, policy } => {
                    let changes = Changes {
                        name,
                        policy: parse_policy(policy.as_deref())?,
                    };
                    print_json(&admin.update_key(&key, &changes, &actor).await?)?;
                }
            }
            Ok(0)
        }
        Command::Credits(CreditsCommand::Grant { key, amount, note }) => {
            let admin = admin_service(&settings).await?;
            // An account by id or name; failing that, the account of the key so named.
            let account = match admin.account(&key).await {
                Ok(account) => account,
                Err(_) => {
                    admin
                        .account(admin.key(&key).await?.account_id.as_str())
                        .await?
                }
            };
            let balance = admin
                .grant_credits(account.id.as_str(), amount, &note, &cli_actor())
                .await?;
            println!("{balance}");
            eprintln!(
                "account {} ({}) now has {balance} credits",
                account.id, account.name
            );
            Ok(0)
        }
        Command::Tasks(cmd) => tasks::run(cmd, &settings).await,
        Command::Backup(args) => backup::backup(args, &settings).await,
        Command::Restore(args) => backup::restore(args, &settings).await,
        Command::Usage(args) => usage::run(args, &settings).await,
        Command::Alerts(cmd) => alerts::run(cmd, &settings).await,
        Command::Generate(args) => Ok(generate::run(args).await),
        Command::Ledger(LedgerCommand::Verify) => {
            let store = open_store(&settings).await?;
            let dump = store.ledger_dump().await?;
            let violations =
                seedgate_core::ledger::verify(&dump.entries, &dump.tasks, &dump.balances);
            if violations.is_empty() {
                println!(
                    "ledger ok: {} entries, {} tasks, {} accounts",
                    dump.entries.len(),
                    dump.tasks.len(),
                    dump.balances.len()
                );
                Ok(0)
            } else {
                for v in &violations {
                    println!("VIOLATION {v}");
                }
                eprintln!("{} ledger invariant violation(s)", violations.len());
                Ok(1)
            }
        }
    }
}

async fn admin_service(settings: &Settings) -> anyhow::Result<AdminService> {
    Ok(admin_over(open_store(settings).await?))
}

/// The admin service the commands share with the admin API, over an open store.
fn admin_over(store: Arc<dyn seedgate_store::Store>) -> AdminService {
    AdminService::new(store, Arc::new(seedgate_core::clock::SystemClock))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `seedgate providers check`: one line per account and model, on stdout.
async fn check_providers(settings: &Settings) -> anyhow::Result<i32> {
    let accounts = settings.provider_accounts()?;
    if accounts.is_empty() {
        println!("no [[providers]] configured: the built-in local renderer serves every model");
        return Ok(0);
    }
    let mut failures = 0;
    for account in accounts {
        match account {
            crate::config::UpstreamOrLocal::Local { name, .. } => {
                println!("{name} (local): ok, built-in renderer");
            }
            crate::config::UpstreamOrLocal::Upstream { config, .. } => {
                let header = format!(
                    "{} ({}, {})",
                    config.name,
                    config.kind.as_str(),
                    config.base_url
                );
                let provider = match seedgate_providers::UpstreamProvider::new(config) {
                    Ok(provider) => provider,
                    Err(e) => {
                        failures += 1;
                        println!("{header}: FAILED: {e}");
                        continue;
                    }
                };
                let report = seedgate_providers::Provider::check(&provider).await;
                let ok = report.authenticated && report.models.iter().all(|(_, r)| r.is_ok());
                if !ok {
                    failures += 1;
                }
                println!(
                    "{header}: {}",
                    match (ok, report.authenticated) {
                        (true, _) => "ok",
                        (false, true) => "FAILED",
                        (false, false) => "FAILED: credentials refused",
                    }
                );
                for (model, result) in &report.models {
                    match result {
                        Ok(()) => println!("  {model}: ok"),
                        Err(why) => println!("  {model}: {why}"),
                    }
                }
                println!("  ({})", report.detail.trim_end_matches("; "));
            }
        }
    }
    Ok(if failures == 0 { 0 } else { 1 })
}
