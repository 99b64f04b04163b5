//! `seedgate backup` / `restore` on the real binary: a backup taken under load restores into a
//! working seedgate (ledger clean, every acknowledged task there with its media, balances equal
//! to the ledger); SIGTERM mid-backup leaves nothing, and stops even a running `VACUUM INTO` at
//! once; restore refuses what it must; and the PostgreSQL procedure (`pg_dump` → `pg_restore`)
//! round-trips with the same checks.

use crate::crash_recovery::{free_port, start};
use crate::helpers::{fresh_postgres_database, ledger_verify_on, wait_for_task};

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONFIG: &str = "mode = \"development\"\n[worker]\nidle_poll_ms = 50\nlease_seconds = 2.0\n";

fn seedgate(args: &[&str], config: &Path, data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seedgate"));
    command
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL")
        .env("SEEDGATE_LOG__FILTER", "warn");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run seedgate")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temp dir with the test config, a migrated data dir and a path for a backup.
struct Scratch {
    dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    backup_dir: PathBuf,
}

fn migrated_scratch() -> Scratch {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("seedgate.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let (data, backup_dir) = (dir.path().join("data"), dir.path().join("backup"));
    let out = run(&mut seedgate(&["migrate"], &config, &data));
    assert!(out.status.success(), "migrate: {}", stderr(&out));
    Scratch {
        dir,
        config,
        data,
        backup_dir,
    }
}

/// The reAPI status order: a restored task may have moved on, never back.
fn same_or_later(before: &str, after: &str) -> bool {
    before == after || before == "processing"
}

/// What the load saw: every task acknowledged (id → status last seen), and the failures.
#[derive(Default)]
struct Load {
    acked: Mutex<BTreeMap<String, String>>,
    requests: AtomicU64,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Load {
    fn fail(&self, what: String) {
        self.failures.lock().expect("lock").push(what);
    }
}

/// Submits, polls and (through the local renderer) completes tasks until told to stop.
fn spawn_load(base: &str, key: &str, load: &Arc<Load>) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::new();
    let mut handles = Vec::new();
    for submitter in 0..2 {
        let (client, base, key, load) = (
            client.clone(),
            base.to_string(),
            key.to_string(),
            load.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut n = 0;
            while !load.stop.load(Ordering::SeqCst) {
                n += 1;
                let r = client
                    .post(format!("{base}/api/v1/videos/generations"))
                    .bearer_auth(&key)
                    .json(&json!({"model": "seedance-2.0-mini", "prompt": format!("load {submitter}/{n}"), "resolution": "480p", "duration": 4}))
                    .send()
                    .await;
                load.requests.fetch_add(1, Ordering::SeqCst);
                match r {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => {
                        let body: Value = r.json().await.expect("json");
                        let id = body["id"].as_str().expect("id").to_string();
                        let status = body["status"].as_str().unwrap_or("processing").to_string();
                        load.acked.lock().expect("lock").insert(id, status);
                    }
                    Ok(r) => load.fail(format!("submit: {}", r.status())),
                    Err(e) => load.fail(format!("submit: {e}")),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }
    for _poller in 0..2 {
        let (client, base, key, load) = (
            client.clone(),
            base.to_string(),
            key.to_string(),
            load.clone(),
        );
        handles.push(tokio::spawn(async move {
            while !load.stop.load(Ordering::SeqCst) {
                let ids: Vec<String> = load
                    .acked
                    .lock()
                    .expect("lock")
                    .iter()
                    .filter(|(_, status)| *status == "processing")
                    .take(5)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ids {
                    let r = client
                        .get(format!("{base}/api/v1/tasks/{id}"))
                        .bearer_auth(&key)
                        .send()
                        .await;
                    load.requests.fetch_add(1, Ordering::SeqCst);
                    match r {
                        Ok(r) if r.status() == reqwest::StatusCode::OK => {
                            let body: Value = r.json().await.expect("json");
                            if let Some(status) = body["status"].as_str() {
                                load.acked
                                    .lock()
                                    .expect("lock")
                                    .insert(id, status.to_string());
                            }
                        }
                        Ok(r) => load.fail(format!("poll {id}: {}", r.status())),
                        Err(e) => load.fail(format!("poll {id}: {e}")),
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    handles
}

/// The checks a restored seedgate must pass: every task acknowledged before the backup is there
/// (same status or a later one), each completed one's video downloads, `ledger verify` is
/// clean, and the account's balance equals the sum of its ledger entries.
async fn check_restored(
    base: &str,
    key: &str,
    acked: &BTreeMap<String, String>,
    data: &Path,
    store: Arc<dyn seedgate_store::Store>,
    database_url: Option<&str>,
) {
    let client = reqwest::Client::new();
    assert!(
        !acked.is_empty(),
        "the load acknowledged tasks before the backup"
    );
    let mut completed = 0;
    for (id, before) in acked {
        let r = client
            .get(format!("{base}/api/v1/tasks/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("get task");
        assert_eq!(
            r.status(),
            reqwest::StatusCode::OK,
            "task {id} is missing after the restore"
        );
        let now: Value = r.json().await.expect("json");
        let status = now["status"].as_str().expect("status");
        assert!(
            same_or_later(before, status),
            "task {id}: {before} before the backup, {status} after"
        );
        // Tasks still in flight at the backup run again on the restored seedgate.
        let task = wait_for_task(&client, base, key, id, Duration::from_secs(120)).await;
        if task["status"] == "completed" {
            completed += 1;
            let url = task["output"]["video_urls"][0].as_str().expect("video url");
            let video = client.get(url).send().await.expect("download");
            assert_eq!(
                video.status(),
                reqwest::StatusCode::OK,
                "task {id}'s video {url}"
            );
            let bytes = video.bytes().await.expect("video bytes");
            assert!(!bytes.is_empty(), "task {id}'s video is empty");
        } else {
            assert_eq!(task["status"], before.as_str(), "task {id} ended {task}");
        }
    }
    assert!(completed > 0, "some acknowledged task completed");

    let (code, out) = ledger_verify_on(data, database_url);
    assert_eq!(code, 0, "ledger verify on the restored seedgate: {out}");

    let account = store
        .find_account("development")
        .await
        .expect("lookup")
        .expect("account");
    // The balance the API shows equals the ledger's sum; read until no task moves it between
    // the two reads (tasks of the load may still be settling).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = api_balance(&client, base, key).await;
        let dump = store.ledger_dump().await.expect("ledger dump");
        let sum: i64 = dump
            .entries
            .iter()
            .filter(|e| e.account_id == account.id.as_str())
            .map(|e| e.amount)
            .sum();
        let again = api_balance(&client, base, key).await;
        if shown == again {
            assert_eq!(shown, sum, "the balance shown equals the ledger's sum");
            break;
        }
        assert!(Instant::now() < deadline, "the balance never settled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn api_balance(client: &reqwest::Client, base: &str, key: &str) -> i64 {
    let account: Value = client
        .get(format!("{base}/api/v1/account"))
        .bearer_auth(key)
        .send()
        .await
        .expect("account")
        .json()
        .await
        .expect("json");
    account["balance"]
        .as_i64()
        .unwrap_or_else(|| panic!("balance in {account}"))
}

#[tokio::test]
async fn backup_under_load_restores_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("seedgate.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let (data, backup_dir, restored) = (
        dir.path().join("data"),
        dir.path().join("backup"),
        dir.path().join("restored"),
    );
    // Media enough that the backup lasts a while, so the load runs through it.
    fill_media(&data, 100, 1 << 20);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (server, key) = start(&config, &data, port);
    let key = key.expect("first start prints the development key");

    let load = Arc::new(Load::default());
    let handles = spawn_load(&base, &key, &load);
    // Let some tasks complete, so the backup holds media, and others be in flight.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !load
        .acked
        .lock()
        .expect("lock")
        .values()
        .any(|s| s == "completed")
    {
        assert!(Instant::now() < deadline, "no task completed under load");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let acked_before = load.acked.lock().expect("lock").clone();
    let requests_before = load.requests.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut backup = seedgate(&["backup", "--to"], &config, &data);
    backup.arg(&backup_dir);
    let out = tokio::task::spawn_blocking(move || run(&mut backup))
        .await
        .expect("backup");
    let took = started.elapsed();
    assert!(out.status.success(), "backup: {}", stderr(&out));
    let during = load.requests.load(Ordering::SeqCst) - requests_before;
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.expect("load task");
    }
    let failures = load.failures.lock().expect("lock").clone();
    assert!(
        failures.is_empty(),
        "requests failed under the backup: {failures:?}"
    );
    assert!(
        during > 0,
        "the load kept being answered during the backup ({took:?})"
    );
    drop(server);

    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(backup_dir.join("manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    assert!(
        manifest["counts"]["tasks"].as_i64().expect("tasks") >= acked_before.len() as i64,
        "{manifest}"
    );
    assert!(
        manifest["media"]["files"].as_u64().expect("files") > 0,
        "{manifest}"
    );

    let out = run(seedgate(&["restore", "--from"], &config, &restored).arg(&backup_dir));
    assert!(out.status.success(), "restore: {}", stderr(&out));

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_server, second_key) = start(&config, &restored, port);
    assert!(
        second_key.is_none(),
        "the restored database has its keys: no new development key"
    );
    let store: Arc<dyn seedgate_store::Store> = Arc::new(
        seedgate_store::SqliteStore::open(&restored.join("seedgate.db"))
            .await
            .expect("open restored db"),
    );
    check_restored(&base, &key, &acked_before, &restored, store, None).await;
}

/// Writes `files` media files of `size` bytes under a data dir's media.
fn fill_media(data: &Path, files: usize, size: usize) {
    let dir = data.join("media").join("results").join("bulk");
    std::fs::create_dir_all(&dir).expect("media dir");
    let chunk: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    for i in 0..files {
        std::fs::write(dir.join(format!("{i}.mp4")), &chunk).expect("media file");
    }
}

#[tokio::test]
async fn sigterm_during_a_backup_leaves_nothing_and_a_later_backup_works() {
    let Scratch {
        dir,
        config,
        data,
        backup_dir,
    } = migrated_scratch();
    fill_media(&data, 400, 1 << 20);

    let mut child = seedgate(&["backup", "--to"], &config, &data)
        .arg(&backup_dir)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start backup");
    let stderr_pipe = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr_pipe).lines();
    // Wait until it is copying media, then stop it.
    loop {
        let line = lines
            .next()
            .expect("backup ended before copying media")
            .expect("line");
        if line.contains("copying media") {
            break;
        }
    }
    // (Its signal handlers are installed before it starts copying.)
    // SAFETY: sending a signal to our own child.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill");
    let status = child.wait().expect("wait");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        !status.success(),
        "the backup was stopped, not finished: {rest:?}"
    );
    let left: Vec<PathBuf> = std::fs::read_dir(&backup_dir)
        .expect("backup dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "nothing half done is left: {left:?}");

    // A later backup into the same directory works, and restores.
    let out = run(seedgate(&["backup", "--to"], &config, &data).arg(&backup_dir));
    assert!(out.status.success(), "second backup: {}", stderr(&out));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(backup_dir.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["media"]["files"], 400, "{manifest}");
    let restored = dir.path().join("restored");
    let out = run(seedgate(&["restore", "--from"], &config, &restored).arg(&backup_dir));
    assert!(out.status.success(), "restore: {}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(restored.join("media/results/bulk"))
            .expect("restored media")
            .count(),
        400
    );
    let (code, out) = ledger_verify_on(&restored, None);
    assert_eq!(code, 0, "{out}");
}

/// Megabytes of throw-away rows put into the database, so that `VACUUM INTO` takes long enough
/// (half a second or more) to be caught in the middle; the test's temp dir holds about three
/// times this at its peak.
const FILLER_MB: u32 = 256;

/// Adds a throw-away table of `megabytes` of 8 KiB rows to the database at `db`, quickly.
async fn fill_database(db: &Path, megabytes: u32) {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
        .connect()
        .await
        .expect("open the database");
    sqlx::query("CREATE TABLE backup_test_filler (b BLOB NOT NULL)")
        .execute(&mut conn)
        .await
        .expect("filler table");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO backup_test_filler SELECT zeroblob(8192) FROM n",
    )
    .bind(megabytes * 128)
    .execute(&mut conn)
    .await
    .expect("filler rows");
    // The last connection to close checkpoints the WAL into the file.
    conn.close().await.expect("close");
}

/// How long one uninterrupted `VACUUM INTO` of `db` takes, the statement the backup runs.
async fn time_vacuum_into(db: &Path, copy: &Path) -> Duration {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .connect()
        .await
        .expect("open the database");
    let started = Instant::now();
    sqlx::query("VACUUM INTO ?")
        .bind(copy.to_str().expect("utf-8"))
        .execute(&mut conn)
        .await
        .expect("VACUUM INTO");
    let took = started.elapsed();
    conn.close().await.expect("close");
    took
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).expect("open"), &mut hasher).expect("read");
    hex::encode(hasher.finalize())
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn sigterm_during_the_database_snapshot_stops_it_at_once_and_leaves_nothing() {
    let Scratch {
        dir,
        config,
        data,
        backup_dir,
    } = migrated_scratch();
    let db = data.join("seedgate.db");
    fill_database(&db, FILLER_MB).await;
    let source_size = file_len(&db);
    let source_sha = sha256_of(&db);

    // What an uninterrupted snapshot costs on this machine, now.
    let scratch = dir.path().join("uninterrupted.db");
    let vacuum = time_vacuum_into(&db, &scratch).await;
    std::fs::remove_file(&scratch).expect("remove the scratch copy");

    let mut child = seedgate(&["backup", "--to"], &config, &data)
        .arg(&backup_dir)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start backup");
    let copy = backup_dir
        .join(format!(".partial-{}", child.id()))
        .join("seedgate.db");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    loop {
        let line = lines
            .next()
            .expect("backup ended before copying the database")
            .expect("line");
        if line.contains("copying the database") {
            break;
        }
    }
    // Caught in the middle of VACUUM INTO: its copy exists and is growing, still far from the
    // source's size, and the command has not moved on (it prints "copying media" next).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = 0;
    let caught_at = loop {
        let len = file_len(&copy);
        if seen > 0 && len > seen {
            break len;
        }
        seen = len;
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the backup ended before its snapshot was seen growing"
        );
        assert!(Instant::now() < deadline, "the snapshot never grew");
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(
        caught_at < source_size / 2,
        "caught early in the copy: {caught_at} of {source_size} bytes"
    );
    let signalled = Instant::now();
    // SAFETY: sending a signal to our own child.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill");
    let status = child.wait().expect("wait");
    let stopped_after = signalled.elapsed();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();

    assert_eq!(status.code(), Some(130), "interrupted: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("backup interrupted")),
        "it says so: {rest:?}"
    );
    assert!(
        !rest.iter().any(|l| l.contains("copying media")),
        "stopped inside the snapshot, not after it: {rest:?}"
    );
    // Within milliseconds, not when the copy would have been done.
    eprintln!("uninterrupted VACUUM INTO: {vacuum:?}; stopped {stopped_after:?} after SIGTERM");
    assert!(
        stopped_after < vacuum / 4,
        "stopped {stopped_after:?} after SIGTERM; an uninterrupted VACUUM INTO takes {vacuum:?}"
    );
    let left: Vec<PathBuf> = std::fs::read_dir(&backup_dir)
        .expect("backup dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "nothing half done is left: {left:?}");
    // The source is as it was, and its ledger is clean.
    assert_eq!(sha256_of(&db), source_sha, "the source database changed");
    let (code, out) = ledger_verify_on(&data, None);
    assert_eq!(code, 0, "{out}");

    // A later backup into the same directory works (and changes nothing of the source either).
    let source_sha = sha256_of(&db);
    let out = run(seedgate(&["backup", "--to"], &config, &data).arg(&backup_dir));
    assert!(out.status.success(), "second backup: {}", stderr(&out));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(backup_dir.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert!(
        manifest["database"]["bytes"].as_u64().expect("bytes") >= u64::from(FILLER_MB) << 20,
        "{manifest}"
    );
    assert_eq!(sha256_of(&db), source_sha, "the source database changed");
}

#[tokio::test]
async fn restore_refuses_a_used_data_dir_a_damaged_or_incomplete_backup_and_backup_refuses_postgres(
) {
    let Scratch {
        dir,
        config,
        data,
        backup_dir,
    } = migrated_scratch();
    fill_media(&data, 3, 1000);
    let out = run(seedgate(&["backup", "--to"], &config, &data).arg(&backup_dir));
    assert!(out.status.success(), "backup: {}", stderr(&out));

    // Into a data dir that holds something: refused, nothing touched.
    let out = run(seedgate(&["restore", "--from"], &config, &data).arg(&backup_dir));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    // Into an existing backup: refused.
    let out = run(seedgate(&["backup", "--to"], &config, &data).arg(&backup_dir));
    assert!(!out.status.success());

    // A damaged database: its checksum no longer matches.
    let damaged = dir.path().join("damaged");
    copy_dir(&backup_dir, &damaged);
    let db = damaged.join("seedgate.db");
    let mut bytes = std::fs::read(&db).expect("db");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&db, bytes).expect("write");
    let target = dir.path().join("t1");
    let out = run(seedgate(&["restore", "--from"], &config, &target).arg(&damaged));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("checksum"), "{}", stderr(&out));
    assert!(!target.join("seedgate.db").exists());

    // Without its manifest (an interrupted copy): not a backup.
    let incomplete = dir.path().join("incomplete");
    copy_dir(&backup_dir, &incomplete);
    std::fs::remove_file(incomplete.join("manifest.json")).expect("rm");
    let out = run(seedgate(&["restore", "--from"], &config, &target).arg(&incomplete));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("manifest.json"), "{}", stderr(&out));
    assert!(!target.join("seedgate.db").exists());

    // PostgreSQL or S3: the commands say to use their own tools.
    let out = run(seedgate(&["backup", "--to"], &config, &data)
        .arg(dir.path().join("pg"))
        .env("SEEDGATE_DATABASE_URL", "postgres://u:p@127.0.0.1:1/none"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
    let out = run(seedgate(&["backup", "--to"], &config, &data)
        .arg(dir.path().join("s3"))
        .env("SEEDGATE_STORAGE__KIND", "s3")
        .env("SEEDGATE_STORAGE__S3__BUCKET", "b"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bucket versioning"),
        "{}",
        stderr(&out)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The README's PostgreSQL procedure: `pg_dump -Fc` of a live database, `pg_restore` into a new
/// one, the media directory copied; a seedgate on the restored database passes the same checks.
#[tokio::test]
async fn postgres_pg_dump_and_pg_restore_round_trip() {
    let source = fresh_postgres_database().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, restored) = (dir.path().join("data"), dir.path().join("restored"));
    let config = dir.path().join("source.toml");
    std::fs::write(
        &config,
        format!("database_url = \"{}\"\n{CONFIG}", source.url),
    )
    .expect("config");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (server, key) = start(&config, &data, port);
    let key = key.expect("first start prints the development key");

    let load = Arc::new(Load::default());
    let handles = spawn_load(&base, &key, &load);
    let deadline = Instant::now() + Duration::from_secs(90);
    while load
        .acked
        .lock()
        .expect("lock")
        .values()
        .filter(|s| *s == "completed")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "no task completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acked_before = load.acked.lock().expect("lock").clone();

    // pg_dump takes one consistent snapshot of the live database.
    let dump = dir.path().join("seedgate.dump");
    let out = Command::new("pg_dump")
        .args(["-Fc", "--no-owner", "-f"])
        .arg(&dump)
        .arg("--dbname")
        .arg(&source.url)
        .output()
        .expect("pg_dump is installed with PostgreSQL's client tools (CI installs postgresql)");
    assert!(out.status.success(), "pg_dump: {}", stderr(&out));
    // Then the media (after the snapshot, so every file it references is there).
    copy_dir(&data.join("media"), &restored.join("media"));
    load.stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.expect("load task");
    }
    let failures = load.failures.lock().expect("lock").clone();
    assert!(
        failures.is_empty(),
        "requests failed during pg_dump: {failures:?}"
    );
    drop(server);

    let target = fresh_postgres_database().await;
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&target.url)
        .arg(&dump)
        .output()
        .expect("pg_restore is installed with PostgreSQL's client tools (CI installs postgresql)");
    assert!(out.status.success(), "pg_restore: {}", stderr(&out));

    let restored_config = dir.path().join("restored.toml");
    std::fs::write(
        &restored_config,
        format!("database_url = \"{}\"\n{CONFIG}", target.url),
    )
    .expect("config");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_server, second_key) = start(&restored_config, &restored, port);
    assert!(second_key.is_none(), "the restored database has its keys");
    let store: Arc<dyn seedgate_store::Store> = Arc::new(
        seedgate_store::postgres::PgStore::connect(&target.url)
            .await
            .expect("restored database"),
    );
    check_restored(
        &base,
        &key,
        &acked_before,
        &restored,
        store,
        Some(&target.url),
    )
    .await;
}
