//! The command line: `serve`, `config`, `keys`, `credits`, `ledger verify`, `migrate`.

use crate::config::{FlagOverrides, RunMode, Settings};
use crate::startup::{open_store, Application};
use clap::{Args, Parser, Subcommand};
use seedgate_service::auth;
use std::path::PathBuf;

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
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// Audit the credit ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Create or upgrade the database schema, then exit.
    Migrate,
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
pub enum KeysCommand {
    /// Create a key; prints the key alone on stdout (only its SHA-256 is stored).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        credits: i64,
    },
    /// List keys with their balances.
    List,
    /// Revoke a key by id or name.
    Revoke { key: String },
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
    /// Add credits to a key (negative to remove).
    Grant {
        /// Key id or name.
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
        } => {
            crate::bench::run(crate::bench::BenchArgs {
                seconds,
                connections,
                in_flight,
                visible_samples,
                out,
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
        Command::Keys(cmd) => {
            let store = open_store(&settings).await?;
            match cmd {
                KeysCommand::Create { name, credits } => {
                    if credits < 0 {
                        anyhow::bail!("--credits cannot be negative");
                    }
                    let key = auth::generate_key();
                    let record = store
                        .create_api_key(&name, &key.hash, &key.display_prefix, credits)
                        .await?;
                    eprintln!(
                        "created key {} ({}) with {} credits",
                        record.id, record.name, record.balance
                    );
                    println!("{}", key.plaintext);
                }
                KeysCommand::List => {
                    println!(
                        "{:<32} {:<20} {:<14} {:>12}  status",
                        "id", "name", "prefix", "balance"
                    );
                    for k in store.list_api_keys().await? {
                        let status = if k.revoked_at_ms.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{:<32} {:<20} {:<14} {:>12}  {status}",
                            k.id,
                            k.name,
                            format!("{}…", k.key_prefix),
                            k.balance
                        );
                    }
                }
                KeysCommand::WebhookSecret { key, rotate } => {
                    let record = match store.find_api_key_by_hash(&auth::hash_key(&key)).await? {
                        Some(record) => record,
                        None => store
                            .find_api_key(&key)
                            .await?
                            .ok_or_else(|| anyhow::anyhow!("no key `{key}`"))?,
                    };
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
                    let record = store
                        .find_api_key(&key)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no key `{key}`"))?;
                    store.revoke_api_key(&record.id).await?;
                    eprintln!("revoked key {} ({})", record.id, record.name);
                }
            }
            Ok(0)
        }
        Command::Credits(CreditsCommand::Grant { key, amount, note }) => {
            let store = open_store(&settings).await?;
            let record = store
                .find_api_key(&key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no key `{key}`"))?;
            let balance = store.grant_credits(&record.id, amount, &note).await?;
            println!("{balance}");
            eprintln!(
                "key {} ({}) now has {balance} credits",
                record.id, record.name
            );
            Ok(0)
        }
        Command::Ledger(LedgerCommand::Verify) => {
            let store = open_store(&settings).await?;
            let dump = store.ledger_dump().await?;
            let violations =
                seedgate_core::ledger::verify(&dump.entries, &dump.tasks, &dump.balances);
            if violations.is_empty() {
                println!(
                    "ledger ok: {} entries, {} tasks, {} keys",
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
