//! A full disk, for real: the binary serves from a data dir on a small tmpfs mounted in a mount
//! namespace of its own (`unshare`; as root, or in a user namespace otherwise), which the test
//! fills on purpose through `/proc/<pid>/root`. While it is full every dialect's submit answers
//! its own retryable "unavailable" with `Retry-After` and "storage is full; retry later" (an
//! upload too), no hold is taken and no task is made; what was acknowledged before stays
//! readable (media included) and finishes; once space is freed submits work again and the
//! ledger is clean. On PostgreSQL the same guarantees are tested with every write answering
//! `disk_full` (SQLSTATE 53100), the error a full disk gives it.

use crate::crash_recovery::{free_port, Server};
use crate::helpers::{error_code, ledger_verify, wait_for_task, Call};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A 4 s 480p text-only create in each dialect.
pub(crate) fn creates(prompt: &str) -> Vec<Call> {
    vec![
        Call {
            dialect: "reapi",
            path: "/api/v1/videos/generations",
            body: json!({"model": "seedance-2.0-mini", "prompt": prompt, "resolution": "480p", "duration": 4}),
        },
        Call {
            dialect: "hiapi",
            path: "/v1/tasks",
            body: json!({"model": "seedance-2.0-mini",
                "input": {"prompt": prompt, "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "apixo",
            path: "/api/v1/generateTask/seedance-2-0-mini",
            body: json!({"request_type": "async", "input": {"mode": "text-to-video",
                "prompt": prompt, "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "crun",
            path: "/api/v1/client/job/CreateTask",
            body: json!({"model": "bytedance/seedance2-0-mini-t2v",
                "input": {"prompt": prompt, "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "kie",
            path: "/api/v1/jobs/createTask",
            body: json!({"model": "bytedance/seedance-2-mini",
                "input": {"prompt": prompt, "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "ark",
            path: "/api/v3/contents/generations/tasks",
            body: json!({"model": "dreamina-seedance-2-0-mini-260615", "resolution": "480p",
                "duration": 4, "content": [{"type": "text", "text": prompt}]}),
        },
        Call {
            dialect: "openai",
            path: "/v1/videos",
            body: json!({"model": "seedance-2.0-mini", "prompt": prompt, "size": "864x496", "seconds": "4"}),
        },
    ]
}

/// Each dialect's own status and code for a retryable "unavailable".
pub(crate) fn unavailable(dialect: &str) -> (u16, Value) {
    match dialect {
        "reapi" => (503, json!(70002)),
        "hiapi" => (503, json!("SERVICE_UNAVAILABLE")),
        "apixo" | "kie" => (503, json!(503)),
        "crun" => (455, json!(455)),
        "ark" => (503, json!("ServiceUnavailable")),
        "openai" => (503, json!("service_unavailable")),
        other => panic!("unknown dialect {other}"),
    }
}

/// The id of the task a create made, wherever its dialect puts it.
pub(crate) fn created_id(body: &Value) -> Option<String> {
    [
        &body["id"],
        &body["data"]["id"],
        &body["data"]["taskId"],
        &body["data"]["task_id"],
        &body["data"]["jobId"],
        &body["task_id"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().map(str::to_string))
}

async fn send(client: &reqwest::Client, base: &str, key: &str, call: &Call) -> reqwest::Response {
    let request = client.post(format!("{base}{}", call.path));
    let request = if call.dialect == "crun" {
        request.header("x-api-key", key)
    } else {
        request.bearer_auth(key)
    };
    request.json(&call.body).send().await.expect("send")
}

/// Starts the binary on a fresh tmpfs of `size` mounted over `data` in its own mount namespace
/// (the mount vanishes with the process); returns it and the development key it printed.
fn start_on_small_disk(config: &Path, data: &Path, port: u16, size: &str) -> (Server, String) {
    let mut command = Command::new("unshare");
    // Root mounts in a plain mount namespace; anyone else needs a user namespace of their own to
    // be allowed to mount.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        command.args(["--user", "--map-root-user"]);
    }
    command
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(
            "mount -t tmpfs -o size=\"$1\" seedgate-full-disk \"$2\" && \
             exec \"$3\" serve --config \"$4\" --data-dir \"$2\" --listen \"$5\"",
        )
        .arg("sh")
        .arg(size)
        .arg(data)
        .arg(env!("CARGO_BIN_EXE_seedgate"))
        .arg(config)
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL")
        .env("SEEDGATE_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .expect("unshare (util-linux) runs the server in a mount namespace of its own");
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
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "the server on a small tmpfs did not start ({status}): mounting needs root or \
                 user namespaces"
            );
        }
        assert!(Instant::now() < deadline, "seedgate did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let key = rx
        .recv_timeout(Duration::from_secs(5))
        .ok()
        .flatten()
        .expect("the first start prints the development key");
    (server, key)
}

/// Fills the filesystem holding `dir` with `filler` until a write fails with ENOSPC.
fn fill(filler: &Path) {
    let mut file = std::fs::File::create(filler).expect("create the filler");
    for chunk in [1 << 20, 4096, 512] {
        let bytes = vec![0x5a_u8; chunk];
        loop {
            match file.write(&bytes) {
                Ok(n) if n == chunk => continue,
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }
    let _ = file.sync_all();
}

async fn balance(client: &reqwest::Client, base: &str, key: &str) -> i64 {
    let r = client
        .get(format!("{base}/api/v1/account"))
        .bearer_auth(key)
        .send()
        .await
        .expect("account");
    let body: Value = r.json().await.expect("json");
    body["balance"]
        .as_i64()
        .unwrap_or_else(|| panic!("no balance in {body}"))
}

async fn task_count(client: &reqwest::Client, base: &str, key: &str) -> u64 {
    let r = client
        .get(format!(
            "{base}/api/v3/contents/generations/tasks?page_size=1"
        ))
        .bearer_auth(key)
        .send()
        .await
        .expect("list");
    let body: Value = r.json().await.expect("json");
    body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total in {body}"))
}

/// The task's video, downloaded: it must be there and be an MP4.
async fn video_of(client: &reqwest::Client, task: &Value) -> usize {
    let url = task["output"]["video_urls"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no video in {task}"));
    let r = client.get(url).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    let bytes = r.bytes().await.expect("bytes");
    assert!(
        bytes.len() > 8 && &bytes[4..8] == b"ftyp",
        "not an MP4: {url}"
    );
    bytes.len()
}

/// A task through reAPI's status call, which must answer 200 (reads work while the disk is
/// full).
async fn read_task(client: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    let r = client
        .get(format!("{base}/api/v1/tasks/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK, "{id} is readable");
    r.json().await.expect("json")
}

/// Once there is room again: every dialect's submit works, and everything acknowledged
/// (those submits included) completes with its video.
async fn submit_again_and_finish_all(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    mut acknowledged: Vec<String>,
) {
    for call in creates("after space was freed") {
        let r = send(client, base, key, &call).await;
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert!(status.is_success(), "{}: {status} {body}", call.dialect);
        acknowledged.push(created_id(&body).unwrap_or_else(|| panic!("no id: {body}")));
    }
    for id in &acknowledged {
        let task = wait_for_task(client, base, key, id, Duration::from_secs(120)).await;
        assert_eq!(task["status"], "completed", "{id}: {task}");
        video_of(client, &task).await;
    }
}

/// Submits in every dialect, round after round, until a round has every dialect refused in its
/// own retryable terms ("storage is full; retry later", `Retry-After`) with no hold taken and
/// no task made; submits that still fitted are added to `acknowledged`. Returns that round.
async fn refuse_every_dialect(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    acknowledged: &mut Vec<String>,
) -> usize {
    for round in 0..40 {
        let before = (
            balance(client, base, key).await,
            task_count(client, base, key).await,
        );
        let mut refused = 0;
        for call in creates(&format!("while the disk is full {round}")) {
            let r = send(client, base, key, &call).await;
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = r.json().await.expect("json");
            if (200..300).contains(&status) {
                acknowledged.push(created_id(&body).unwrap_or_else(|| panic!("no id: {body}")));
                continue;
            }
            let (want_status, want_code) = unavailable(call.dialect);
            assert_eq!(status, want_status, "{}: {body}", call.dialect);
            assert_eq!(
                error_code(call.dialect, &body),
                want_code,
                "{}: {body}",
                call.dialect
            );
            assert!(
                body.to_string().contains("storage is full; retry later"),
                "{}: {body}",
                call.dialect
            );
            let seconds: u64 = retry_after
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{}: no Retry-After: {body}", call.dialect));
            assert!(seconds > 0, "{}", call.dialect);
            refused += 1;
        }
        if refused == 7 {
            // No hold taken, no task made.
            let after = (
                balance(client, base, key).await,
                task_count(client, base, key).await,
            );
            assert_eq!(after, before, "a refused submit wrote nothing");
            return round;
        }
    }
    panic!("a full disk never refused every dialect's submit");
}

#[tokio::test]
async fn a_full_disk_refuses_submits_retryably_in_every_dialect_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data: PathBuf = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let config = dir.path().join("seedgate.toml");
    // Failed attempts (a result that cannot be written) are retried quickly and often enough to
    // outlast the full disk; a short lease brings back a claim whose end could not be written.
    std::fs::write(
        &config,
        "[worker]\nidle_poll_ms = 50\nretry_base_ms = 200\nmax_attempts = 12\nlease_seconds = 2.0\n",
    )
    .expect("config");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let (server, key) = start_on_small_disk(&config, &data, port, "24m");
    // The server's own view of its data dir, through its mount namespace.
    let seen = PathBuf::from(format!("/proc/{}/root", server.0.id())).join(
        data.strip_prefix("/")
            .expect("the temp dir is an absolute path"),
    );
    assert!(seen.join("seedgate.db").exists(), "{}", seen.display());

    // Acknowledged and finished before the disk fills.
    let mut finished = Vec::new();
    for prompt in ["before the disk filled 1", "before the disk filled 2"] {
        let r = send(&client, &base, &key, &creates(prompt)[0]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let id = created_id(&r.json().await.expect("json")).expect("id");
        let task = wait_for_task(&client, &base, &key, &id, Duration::from_secs(90)).await;
        assert_eq!(task["status"], "completed", "{task}");
        finished.push((id, video_of(&client, &task).await));
    }
    // Acknowledged before the disk fills, still rendering when it does.
    let r = send(
        &client,
        &base,
        &key,
        &creates("rendering while the disk fills [[seedgate:delay:1500]]")[0],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut acknowledged = vec![created_id(&r.json().await.expect("json")).expect("id")];

    let filler = seen.join("filler");
    fill(&filler);

    // SQLite may still fit a few rows in pages and WAL space it already has; those submits are
    // acknowledged (durably) and must finish too. Once the disk is truly full, every dialect
    // refuses in its own terms, retryably, and writes nothing.
    let refused_round = refuse_every_dialect(&client, &base, &key, &mut acknowledged).await;
    eprintln!(
        "full disk: {} submits fitted before every dialect was refused (round {refused_round})",
        acknowledged.len() - 1
    );

    // An upload while full: the media write meets ENOSPC, answered the same retryable way.
    let png = crate::media_server::make_image(640, 480, image::ImageFormat::Png);
    let r = client
        .post(format!("{base}/api/v1/assets"))
        .bearer_auth(&key)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], 70002, "{body}");
    assert!(
        body.to_string().contains("storage is full; retry later"),
        "{body}"
    );

    // Full long enough for the task still rendering to finish its attempt: its result cannot
    // be written, and the attempt is retried rather than the task lost.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // While full, what was acknowledged is still readable, media included.
    for (id, size) in &finished {
        let task = read_task(&client, &base, &key, id).await;
        assert_eq!(task["status"], "completed", "{task}");
        assert_eq!(video_of(&client, &task).await, *size);
    }
    for id in &acknowledged {
        read_task(&client, &base, &key, id).await;
    }

    // Space freed: every dialect's submit works again, and everything acknowledged finishes.
    std::fs::remove_file(&filler).expect("free the space");
    submit_again_and_finish_all(&client, &base, &key, acknowledged).await;

    let (code, out) = ledger_verify(&seen);
    assert_eq!(code, 0, "ledger verify: {out}");

    // SIGTERM: a clean exit.
    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            assert!(status.success(), "exit after SIGTERM: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes every write to seedgate's tables fail as PostgreSQL fails them when its disk is full:
/// SQLSTATE 53100 `disk_full`, from a trigger on each table. Reads still work, as they do on a
/// full disk. Filling the server's own disk is not something a test can do to a shared server;
/// what seedgate sees is this error, on every write, which is what the fault is made of.
const FILL_POSTGRES: &str = r#"
CREATE FUNCTION seedgate_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
END $f$;
DO $d$
DECLARE t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables
           WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations' LOOP
    EXECUTE format('CREATE TRIGGER seedgate_test_disk_full BEFORE INSERT OR UPDATE OR DELETE '
                   'ON %I FOR EACH ROW EXECUTE FUNCTION seedgate_test_disk_full()', t);
  END LOOP;
END $d$;
"#;

const FREE_POSTGRES: &str = "DROP FUNCTION seedgate_test_disk_full() CASCADE";

/// The same guarantees on PostgreSQL: while every write answers `disk_full`, each dialect's
/// submit is refused in its own retryable terms and writes nothing; what was acknowledged
/// stays readable, and once the disk has room again it all finishes, submits work, and the
/// ledger is clean.
#[tokio::test]
async fn postgres_answering_disk_full_refuses_submits_retryably_and_loses_nothing() {
    let database = crate::helpers::fresh_postgres_database().await;
    let url = database.url.clone();
    let app = crate::helpers::spawn_app_with(|s| {
        s.database_url = Some(url);
        // A result that cannot be written is retried, and a claim whose end could not be
        // written comes back when its short lease expires.
        s.worker.retry_base_ms = 200;
        s.worker.max_attempts = 12;
        s.worker.lease_seconds = 2.0;
    })
    .await;
    let (client, base, key) = (&app.client, app.base.as_str(), app.key.as_str());
    let admin = sqlx::PgPool::connect(&database.url)
        .await
        .expect("PostgreSQL");

    let r = send(client, base, key, &creates("before the disk filled")[0]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let finished = created_id(&r.json().await.expect("json")).expect("id");
    let task = wait_for_task(client, base, key, &finished, Duration::from_secs(90)).await;
    assert_eq!(task["status"], "completed", "{task}");
    let size = video_of(client, &task).await;
    // Acknowledged before the disk fills, still rendering when it does.
    let r = send(
        client,
        base,
        key,
        &creates("rendering while the disk fills [[seedgate:delay:1500]]")[0],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut acknowledged = vec![created_id(&r.json().await.expect("json")).expect("id")];

    sqlx::raw_sql(FILL_POSTGRES)
        .execute(&admin)
        .await
        .expect("make every write answer disk_full");
    let round = refuse_every_dialect(client, base, key, &mut acknowledged).await;
    assert_eq!(round, 0, "PostgreSQL refuses from the first write");

    // Full long enough for the rendering task's result to meet the fault.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let task = read_task(client, base, key, &finished).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(video_of(client, &task).await, size);
    for id in &acknowledged {
        let task = read_task(client, base, key, id).await;
        assert_ne!(
            task["status"], "failed",
            "{id} was not failed by the fault: {task}"
        );
    }

    // Room again: submits work in every dialect, everything acknowledged finishes.
    sqlx::query(FREE_POSTGRES)
        .execute(&admin)
        .await
        .expect("free the space");
    admin.close().await;
    submit_again_and_finish_all(client, base, key, acknowledged).await;
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "ledger verify: {out}");
}
