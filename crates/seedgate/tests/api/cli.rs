//! The operator commands and settings layering, through the real binary.

use crate::helpers::test_settings;
use seedgate::config::RunMode;
use seedgate::startup::Application;
use seedgate_service::auth;
use seedgate_store::prelude::*;
use seedgate_store::SqliteStore;
use std::process::{Command, Output};

fn seedgate(args: &[&str], data: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SEEDGATE_LOG__FILTER", "warn")
        .output()
        .expect("run seedgate")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn keys_and_credits_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = seedgate(
        &["keys", "create", "--name", "ci", "--credits", "1234"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "the key alone on stdout: {printed:?}");
    let key = lines[0];
    assert!(key.starts_with(auth::KEY_PREFIX));

    let store = SqliteStore::open(&dir.path().join("seedgate.db"))
        .await
        .expect("open");
    let record = store
        .find_credential(&auth::hash_key(key))
        .await
        .expect("lookup")
        .expect("stored by hash");
    assert_eq!(record.account.balance, 1234);
    let db = std::fs::read(dir.path().join("seedgate.db")).expect("read db");
    assert!(
        !db.windows(key.len()).any(|w| w == key.as_bytes()),
        "the plaintext key is never stored"
    );

    let out = seedgate(&["credits", "grant", "ci", "766"], dir.path());
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "2000");
    let out = seedgate(&["credits", "grant", "ci", "-5000"], dir.path());
    assert!(
        !out.status.success(),
        "a grant cannot drive a balance negative"
    );

    let list = stdout(&seedgate(&["keys", "list"], dir.path()));
    assert!(list.contains("ci") && list.contains("active"), "{list}");
    let accounts = stdout(&seedgate(&["accounts", "list"], dir.path()));
    assert!(
        accounts.contains("ci") && accounts.contains("2000"),
        "the key's own account holds the balance: {accounts}"
    );
    assert!(!list.contains(key), "listings never show the key");

    assert!(seedgate(&["keys", "revoke", "ci"], dir.path())
        .status
        .success());
    let list = stdout(&seedgate(&["keys", "list"], dir.path()));
    assert!(list.contains("revoked"), "{list}");
    assert!(!seedgate(&["keys", "revoke", "nobody"], dir.path())
        .status
        .success());

    let out = seedgate(&["ledger", "verify"], dir.path());
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn settings_layer_defaults_file_env_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("seedgate.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:9001\"\ndata_dir = \"/from-file\"\npublic_base_url = \"https://file.example\"\n[worker]\nconcurrency = 7\nmax_attempts = 9\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .arg("config")
        .arg("--config")
        .arg(&config)
        .args(["--data-dir", "/from-flag"])
        .env("SEEDGATE_LISTEN", "127.0.0.1:9002")
        .env("SEEDGATE_WORKER__CONCURRENCY", "5")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let effective: toml::Value = toml::from_str(&stdout(&out)).expect("config prints TOML");
    assert_eq!(
        effective["listen"].as_str(),
        Some("127.0.0.1:9002"),
        "env beats file"
    );
    assert_eq!(
        effective["data_dir"].as_str(),
        Some("/from-flag"),
        "flag beats everything"
    );
    assert_eq!(
        effective["public_base_url"].as_str(),
        Some("https://file.example"),
        "file beats default"
    );
    assert_eq!(effective["worker"]["concurrency"].as_integer(), Some(5));
    assert_eq!(effective["worker"]["max_attempts"].as_integer(), Some(9));
    assert_eq!(effective["mode"].as_str(), Some("development"), "default");

    let defaults = Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .arg("config")
        .env_remove("SEEDGATE_LISTEN")
        .output()
        .expect("run");
    let d: toml::Value = toml::from_str(&stdout(&defaults)).expect("toml");
    assert_eq!(d["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(d["data_dir"].as_str(), Some("./seedgate-data"));

    let missing = Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .args(["config", "--config", "/nonexistent.toml"])
        .output()
        .expect("run");
    assert!(!missing.status.success());
}

#[tokio::test]
async fn development_creates_one_key_and_production_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(dir.path());
    settings.mode = RunMode::Production;
    let app = Application::build(settings.clone()).await.expect("build");
    assert!(app.bootstrap_key().is_none());
    assert_eq!(app.store().count_api_keys().await.expect("count"), 0);
    drop(app);

    settings.mode = RunMode::Development;
    let app = Application::build(settings.clone()).await.expect("build");
    let key = app
        .bootstrap_key()
        .expect("a key on an empty database")
        .to_string();
    let record = app
        .store()
        .find_credential(&auth::hash_key(&key))
        .await
        .expect("lookup")
        .expect("stored");
    assert_eq!(record.account.balance, 100_000);
    drop(app);
    let app = Application::build(settings).await.expect("build");
    assert!(app.bootstrap_key().is_none(), "only on an empty database");
}

#[test]
fn config_prints_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .args(["config", "--data-dir"])
        .arg(dir.path())
        .env(
            "SEEDGATE_DATABASE_URL",
            "postgres://seedgate:hunter2-db@db.internal:5432/seedgate?sslmode=require&password=hunter3-param",
        )
        .env("SEEDGATE_STORAGE__S3__SECRET_ACCESS_KEY", "hunter4-s3")
        .env(
            "SEEDGATE_STORAGE__S3__ENDPOINT",
            "http://minio:hunter5-endpoint@127.0.0.1:9000",
        )
        .env("SEEDGATE_STORAGE__S3__ACCESS_KEY_ID", "AKIAPUBLICID")
        .env("SEEDGATE_LOG__FILTER", "warn")
        .output()
        .expect("run seedgate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = stdout(&out);
    for secret in [
        "hunter2-db",
        "hunter3-param",
        "hunter4-s3",
        "hunter5-endpoint",
    ] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    // What is not secret still shows, so the operator can check it.
    assert!(printed.contains("db.internal:5432/seedgate"), "{printed}");
    assert!(printed.contains("sslmode=require"), "{printed}");
    assert!(printed.contains("AKIAPUBLICID"), "{printed}");
    assert!(printed.contains("REDACTED"), "{printed}");
}

#[test]
fn instant_mode_is_refused_in_production() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .args(["config", "--data-dir"])
        .arg(dir.path())
        .env("SEEDGATE_MODE", "production")
        .env("SEEDGATE_LOCAL__INSTANT", "true")
        .env("SEEDGATE_LOG__FILTER", "warn")
        .output()
        .expect("run seedgate");
    assert!(!out.status.success(), "production accepted local.instant");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("local.instant"), "{stderr}");
}

#[test]
fn production_with_upstream_accounts_needs_a_public_base_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("seedgate.toml");
    let accounts = "mode = \"production\"\n\
        [[providers]]\nname = \"ark-main\"\nkind = \"ark\"\n\
        base_url = \"https://ark.example.com\"\napi_key = \"k\"\n\
        models = { \"seedance-2.0-mini\" = \"dreamina-seedance-2-0-mini-260615\" }\n";
    let run = |extra: &str| {
        std::fs::write(&config, format!("{extra}{accounts}")).expect("config");
        Command::new(env!("CARGO_BIN_EXE_seedgate"))
            .args(["config", "--data-dir"])
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .env("SEEDGATE_LOG__FILTER", "warn")
            .output()
            .expect("run seedgate")
    };
    let out = run("");
    assert!(!out.status.success(), "accepted without public_base_url");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("public_base_url"), "{stderr}");
    let out = run("public_base_url = \"https://videos.example.com\"\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
