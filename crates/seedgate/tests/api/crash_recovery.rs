//! SIGKILL mid-task and restart: the task finishes after the restart, charged once.

use crate::helpers::{ledger_verify, wait_for_task};
use seedgate_store::prelude::*;
use seedgate_store::SqliteStore;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub(crate) fn start(
    config: &std::path::Path,
    data: &std::path::Path,
    port: u16,
) -> (Server, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seedgate"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("SEEDGATE_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start seedgate");
    // The development key, printed on first start only: a banner line, then the key.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(2)
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines.get(1).cloned());
    });
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "seedgate did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let key = rx.recv_timeout(Duration::from_millis(500)).ok().flatten();
    (server, key)
}

/// A data dir and a config file in a fresh temp dir, a free port, and a client for it.
pub(crate) struct Setup {
    pub _dir: tempfile::TempDir,
    pub data: std::path::PathBuf,
    pub config: std::path::PathBuf,
    pub port: u16,
    pub base: String,
    pub client: reqwest::Client,
}

pub(crate) fn setup(config_toml: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = dir.path().join("seedgate.toml");
    std::fs::write(&config, config_toml).expect("config");
    let port = free_port();
    Setup {
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
        data,
        config,
        port,
        client: reqwest::Client::new(),
    }
}

/// Submits a 480p, 4 s text-to-video task and returns its id.
async fn submit(client: &reqwest::Client, base: &str, key: &str, prompt: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/videos/generations"))
        .bearer_auth(key)
        .json(&json!({"model": "seedance-2.0-mini", "prompt": prompt, "resolution": "480p", "duration": 4}))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = r.json().await.expect("json");
    body["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn sigkill_mid_task_loses_nothing_and_charges_once() {
    // A short lease so the dead worker's claim expires quickly; a slow renderer so the kill
    // lands mid-task.
    let Setup {
        _dir,
        data,
        config,
        port,
        base,
        client,
    } = setup("[worker]\nlease_seconds = 2.0\nidle_poll_ms = 100\n\n[local]\ndelay_ms = 4000\n");

    let (server, key) = start(&config, &data, port);
    let key = key.expect("first start prints the development key");
    let id = submit(&client, &base, &key, "survive a crash").await;

    // Let a worker claim it, then kill the process without warning.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    drop(server);

    let (_server, second_key) = start(&config, &data, port);
    assert!(
        second_key.is_none(),
        "the development key is created once, on an empty database"
    );
    let task = wait_for_task(&client, &base, &key, &id, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "completed", "{task}");

    let store = SqliteStore::open(&data.join("seedgate.db"))
        .await
        .expect("open db");
    let record = store
        .find_account("development")
        .await
        .expect("lookup")
        .expect("key");
    let stored = store
        .get_task(&seedgate_core::TaskId::from_string(id.clone()), &record.id)
        .await
        .expect("get")
        .expect("task");
    assert_eq!(
        stored.attempt, 2,
        "the task was in progress when killed and ran again after the restart"
    );
    assert_eq!(record.balance, 100_000 - 190, "charged exactly once");
    let (code, out) = ledger_verify(&data);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn sigterm_hands_the_running_task_back_and_exits_promptly() {
    // A long lease: if shutdown did not hand the task back, it would sit for a minute.
    let Setup {
        _dir,
        data,
        config,
        port,
        base,
        client,
    } = setup("[worker]\nlease_seconds = 60.0\nidle_poll_ms = 100\n\n[local]\ndelay_ms = 5000\n");

    let (mut server, key) = start(&config, &data, port);
    let key = key.expect("development key");
    let id = submit(&client, &base, &key, "stop politely").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "seedgate did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    let store = SqliteStore::open(&data.join("seedgate.db"))
        .await
        .expect("open db");
    let record = store
        .find_account("development")
        .await
        .expect("lookup")
        .expect("key");
    let task_id = seedgate_core::TaskId::from_string(id.clone());
    let stored = store
        .get_task(&task_id, &record.id)
        .await
        .expect("get")
        .expect("task");
    assert_eq!(
        stored.status,
        seedgate_core::TaskStatus::Queued,
        "handed back, not left leased"
    );
    assert_eq!(stored.attempt, 0, "the interrupted attempt does not count");

    let (_server, _) = start(&config, &data, port);
    let started = Instant::now();
    let task = wait_for_task(&client, &base, &key, &id, Duration::from_secs(40)).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "picked up at once, not after the 60 s lease"
    );
    let stored = store
        .get_task(&task_id, &record.id)
        .await
        .expect("get")
        .expect("task");
    assert_eq!(stored.attempt, 1);
    assert_eq!(ledger_verify(&data).0, 0);
}
