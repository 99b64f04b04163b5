//! `seedgate backup --to DIR` and `seedgate restore --from DIR`: the embedded deployment's
//! database and media, copied while seedgate keeps serving, and brought back into an empty data
//! dir.
//!
//! A backup is made in `DIR/.partial-<pid>`: first the database (`VACUUM INTO`, one consistent
//! snapshot taken through its own read transaction while the server keeps writing: WAL mode),
//! then the media directory (every file the snapshot can reference was synced before the task
//! pointing at it committed, so copying after the snapshot holds them all; files written since
//! are copied too, harmlessly). Only when both are complete are they renamed into `DIR` and the
//! manifest written, last, through a temporary name. SIGTERM or SIGINT before that stops the
//! work within milliseconds, even in the middle of `VACUUM INTO` (a progress handler on the
//! snapshot's connection interrupts the statement), removes the partial directory and exits
//! 130; a backup without a manifest is not one (`restore` refuses it).
//!
//! PostgreSQL and S3 deployments are backed up with their own tools (`pg_dump`, bucket
//! versioning): the README's "Backup and restore" gives the procedure; these commands say so.

use crate::config::{Settings, StorageKind};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The database file's name, in a data dir and in a backup.
const DB_FILE: &str = "seedgate.db";
/// The media directory's name, in a data dir and in a backup.
const MEDIA_DIR: &str = "media";
const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "seedgate-backup";
const FORMAT_VERSION: u32 = 1;
/// Exit code after SIGINT/SIGTERM stopped a backup or a restore (what a shell reports for it).
const INTERRUPTED: i32 = 130;
/// Exit code when the command does not apply to this deployment (PostgreSQL, S3).
const NOT_APPLICABLE: i32 = 2;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The directory to write the backup into: it must not exist or be empty.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory written by `seedgate backup` (with its manifest.json).
    #[arg(long)]
    pub from: PathBuf,
}

/// `manifest.json`, written last: a backup without one is incomplete.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The seedgate that wrote it.
    pub seedgate_version: String,
    /// The highest database migration applied in the copy.
    pub schema_version: i64,
    pub created_at_ms: i64,
    pub database: DatabaseEntry,
    pub media: MediaEntry,
    pub counts: Counts,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DatabaseEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MediaEntry {
    pub dir: String,
    pub files: u64,
    pub bytes: u64,
}

/// What the database copy holds, for the operator reading the manifest.
#[derive(Debug, Serialize, Deserialize)]
pub struct Counts {
    pub accounts: i64,
    pub api_keys: i64,
    pub tasks: i64,
    pub ledger_entries: i64,
}

/// Why a command does not apply to a PostgreSQL or S3 deployment, or None.
fn external_state(settings: &Settings, verb: &str) -> Option<String> {
    let mut why = Vec::new();
    if settings.database_url.is_some() {
        why.push(
            "the database is PostgreSQL (database_url): use pg_dump -Fc / pg_restore".to_string(),
        );
    }
    if settings.storage.kind == StorageKind::S3 {
        why.push(
            "media live in an S3 bucket (storage.kind = \"s3\"): keep bucket versioning on, or copy the bucket"
                .to_string(),
        );
    }
    if why.is_empty() {
        return None;
    }
    Some(format!(
        "seedgate {verb} covers the embedded deployment only (SQLite in the data dir, media on local disk); {}. See the README, \"Backup and restore\".",
        why.join("; ")
    ))
}

/// Cancellation shared by the copying code and the signal watcher.
#[derive(Clone, Default)]
struct Cancel(Arc<AtomicBool>);

impl Cancel {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.is_set() {
            anyhow::bail!(Interrupted);
        }
        Ok(())
    }
}

/// How many SQLite virtual-machine steps run between two looks at the cancel flag during
/// `VACUUM INTO`. A step may copy a whole row (a large one spans many pages), so few: a look
/// is one atomic load, and a signal stops the copy within milliseconds.
const PROGRESS_STEPS: i32 = 64;

#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted by a signal")
    }
}

impl std::error::Error for Interrupted {}

/// Runs `work` until it ends; SIGINT or SIGTERM meanwhile sets the cancel flag, which `work`
/// checks between steps, between the chunks of every file it copies, and (through the
/// snapshot connection's progress handler) every [`PROGRESS_STEPS`] steps of a running
/// `VACUUM INTO`, which it then interrupts. The handlers stay installed after `work` returns,
/// so a signal during the short final renames does not kill the process half-way: they
/// complete.
async fn cancellable<T>(
    cancel: &Cancel,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let flag = cancel.clone();
    let watcher = tokio::spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        flag.0.store(true, Ordering::SeqCst);
        // Keep the handlers (so later signals are caught, not fatal) until the process exits.
        #[cfg(unix)]
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
    });
    // The watcher is left running (detached): its handlers must outlive the final renames.
    drop(watcher);
    work.await
}

fn is_interrupted(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Interrupted>().is_some()
}

/// `seedgate backup --to DIR`.
pub async fn backup(args: BackupArgs, settings: &Settings) -> anyhow::Result<i32> {
    if let Some(why) = external_state(settings, "backup") {
        eprintln!("{why}");
        return Ok(NOT_APPLICABLE);
    }
    let db = settings.database_path();
    if !db.is_file() {
        anyhow::bail!(
            "no database at {}: is --data-dir the data dir seedgate serves from?",
            db.display()
        );
    }
    let target = args.to;
    prepare_empty_dir(&target, ".partial-")?;
    let partial = target.join(format!(".partial-{}", std::process::id()));
    std::fs::create_dir(&partial)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", partial.display()))?;

    let cancel = Cancel::default();
    let media_dir = settings.media_dir();
    let made = cancellable(
        &cancel,
        make_backup(&db, &media_dir, &partial, cancel.clone()),
    )
    .await;
    let manifest = match made {
        Ok(manifest) => manifest,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            if is_interrupted(&e) {
                eprintln!(
                    "backup interrupted by a signal: the partial copy {} was removed, nothing was kept (the database and media were not changed)",
                    partial.display()
                );
                return Ok(INTERRUPTED);
            }
            return Err(e.context("backup failed; nothing was kept"));
        }
    };

    // Complete: move it into place, the manifest last.
    let finished = (|| -> anyhow::Result<()> {
        std::fs::rename(partial.join(DB_FILE), target.join(DB_FILE))?;
        std::fs::rename(partial.join(MEDIA_DIR), target.join(MEDIA_DIR))?;
        let tmp = partial.join(MANIFEST);
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, target.join(MANIFEST))?;
        sync_dir(&target)?;
        std::fs::remove_dir_all(&partial)?;
        sync_dir(&target)?;
        Ok(())
    })();
    if let Err(e) = finished {
        // Never leave something that looks like a backup: take back what was moved.
        for name in [MANIFEST, DB_FILE] {
            let _ = std::fs::remove_file(target.join(name));
        }
        let _ = std::fs::remove_dir_all(target.join(MEDIA_DIR));
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e.context("backup failed while moving it into place; nothing was kept"));
    }
    eprintln!(
        "backup written to {}: schema {}, {} tasks, {} ledger entries, {} media files ({} bytes)",
        target.display(),
        manifest.schema_version,
        manifest.counts.tasks,
        manifest.counts.ledger_entries,
        manifest.media.files,
        manifest.media.bytes
    );
    Ok(0)
}

/// The database snapshot, then the media, into `partial`; returns the manifest to write.
async fn make_backup(
    db: &Path,
    media_dir: &Path,
    partial: &Path,
    cancel: Cancel,
) -> anyhow::Result<Manifest> {
    let copy = partial.join(DB_FILE);
    eprintln!("copying the database");
    snapshot_database(db, &copy, &cancel).await?;
    cancel.check()?;
    let (schema_version, counts) = inspect_copy(&copy).await?;
    cancel.check()?;

    eprintln!("copying media");
    let (from, to, flag) = (
        media_dir.to_path_buf(),
        partial.join(MEDIA_DIR),
        cancel.clone(),
    );
    let (files, bytes) =
        tokio::task::spawn_blocking(move || copy_tree(&from, &to, &flag)).await??;
    cancel.check()?;

    let copy_for_hash = copy.clone();
    let (sha256, db_bytes) =
        tokio::task::spawn_blocking(move || sha256_file(&copy_for_hash)).await??;
    sync_dir(partial)?;
    Ok(Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        seedgate_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        created_at_ms: now_ms(),
        database: DatabaseEntry {
            file: DB_FILE.into(),
            bytes: db_bytes,
            sha256,
        },
        media: MediaEntry {
            dir: MEDIA_DIR.into(),
            files,
            bytes,
        },
        counts,
    })
}

/// `VACUUM INTO` through a connection of its own: one read transaction, so a consistent copy
/// of the committed state while the server's writers carry on (WAL). The connection's progress
/// handler reads the cancel flag: once a signal sets it, SQLite interrupts the statement
/// (SQLITE_INTERRUPT), which rolls back its read transaction and leaves the source untouched;
/// the half-written copy goes with the partial directory.
async fn snapshot_database(db: &Path, copy: &Path, cancel: &Cancel) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", db.display()))?;
    let target = copy
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    let flag = cancel.0.clone();
    // Returning false interrupts the running statement. The handler stays with the connection
    // (the lock on its handle is released at the end of this statement).
    conn.lock_handle()
        .await?
        .set_progress_handler(PROGRESS_STEPS, move || !flag.load(Ordering::SeqCst));
    // A signal that came before the handler was set is seen here.
    cancel.check()?;
    let vacuumed = sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await;
    if let Err(e) = vacuumed {
        let _ = conn.close().await;
        if cancel.is_set() {
            anyhow::bail!(Interrupted);
        }
        anyhow::bail!("VACUUM INTO {target}: {e}");
    }
    conn.close().await?;
    std::fs::File::open(copy)?.sync_all()?;
    Ok(())
}

/// Opens a copy without changing it (immutable: no journal, no WAL files).
async fn open_copy(copy: &Path) -> anyhow::Result<sqlx::SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(copy)
        .read_only(true)
        .immutable(true)
        .connect()
        .await?)
}

/// Checks the copy's integrity; returns its schema version and what it holds.
async fn inspect_copy(copy: &Path) -> anyhow::Result<(i64, Counts)> {
    let mut conn = open_copy(copy).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    if integrity != "ok" {
        anyhow::bail!("the database copy fails its integrity check: {integrity}");
    }
    let schema_version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await?;
    let mut counted = [0i64; 4];
    for (n, table) in counted
        .iter_mut()
        .zip(["accounts", "api_keys", "tasks", "ledger_entries"])
    {
        *n = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await?;
    }
    let [accounts, api_keys, tasks, ledger_entries] = counted;
    Ok((
        schema_version.unwrap_or(0),
        Counts {
            accounts,
            api_keys,
            tasks,
            ledger_entries,
        },
    ))
}

/// The highest migration this binary knows.
fn known_schema_version() -> i64 {
    sqlx::migrate!("../store/migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// `seedgate restore --from DIR` into the (empty or missing) data dir.
pub async fn restore(args: RestoreArgs, settings: &Settings) -> anyhow::Result<i32> {
    if let Some(why) = external_state(settings, "restore") {
        eprintln!("{why}");
        return Ok(NOT_APPLICABLE);
    }
    let from = args.from;
    let manifest = read_manifest(&from)?;
    let known = known_schema_version();
    if manifest.schema_version > known {
        anyhow::bail!(
            "the backup's schema ({}) is newer than this seedgate's ({known}): restore it with seedgate {} or later",
            manifest.schema_version,
            manifest.seedgate_version
        );
    }
    eprintln!("checking the backup");
    let source_db = from.join(&manifest.database.file);
    let (sha, _) = {
        let path = source_db.clone();
        tokio::task::spawn_blocking(move || sha256_file(&path)).await??
    };
    if sha != manifest.database.sha256 {
        anyhow::bail!(
            "{} does not match the manifest's checksum: the backup is damaged",
            source_db.display()
        );
    }

    let data = settings.data_dir.clone();
    prepare_empty_dir(&data, ".restore-")?;
    let staging = data.join(format!(".restore-{}", std::process::id()));
    std::fs::create_dir(&staging)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", staging.display()))?;
    let cancel = Cancel::default();
    let staged = cancellable(
        &cancel,
        stage_restore(&from, &manifest, &staging, cancel.clone()),
    )
    .await;
    if let Err(e) = staged {
        let _ = std::fs::remove_dir_all(&staging);
        if is_interrupted(&e) {
            eprintln!("restore interrupted: the data dir was left empty");
            return Ok(INTERRUPTED);
        }
        return Err(e.context("restore failed; the data dir was left empty"));
    }

    // Into place: never over anything (the dir was empty; checked again), the database last.
    let finished = (|| -> anyhow::Result<()> {
        for name in [MEDIA_DIR, DB_FILE] {
            if data.join(name).exists() {
                anyhow::bail!(
                    "{} appeared during the restore; not overwriting it",
                    data.join(name).display()
                );
            }
        }
        std::fs::rename(staging.join(MEDIA_DIR), data.join(MEDIA_DIR))?;
        std::fs::rename(staging.join(DB_FILE), data.join(DB_FILE))?;
        std::fs::remove_dir_all(&staging)?;
        sync_dir(&data)?;
        Ok(())
    })();
    if let Err(e) = finished {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e.context("restore failed while moving the copy into place"));
    }
    eprintln!(
        "restored {} into {}: schema {} (the first start upgrades it if older), {} tasks, {} ledger entries, {} media files",
        from.display(),
        data.display(),
        manifest.schema_version,
        manifest.counts.tasks,
        manifest.counts.ledger_entries,
        manifest.media.files
    );
    Ok(0)
}

/// Copies the backup into `staging` and checks the copy against the manifest.
async fn stage_restore(
    from: &Path,
    manifest: &Manifest,
    staging: &Path,
    cancel: Cancel,
) -> anyhow::Result<()> {
    let (src_media, dst_media, flag) = (
        from.join(&manifest.media.dir),
        staging.join(MEDIA_DIR),
        cancel.clone(),
    );
    let (files, bytes) =
        tokio::task::spawn_blocking(move || copy_tree(&src_media, &dst_media, &flag)).await??;
    if (files, bytes) != (manifest.media.files, manifest.media.bytes) {
        anyhow::bail!(
            "the backup's media hold {files} files ({bytes} bytes), its manifest says {} ({} bytes): the backup is damaged",
            manifest.media.files,
            manifest.media.bytes
        );
    }
    cancel.check()?;
    let (src_db, dst_db, flag) = (
        from.join(&manifest.database.file),
        staging.join(DB_FILE),
        cancel.clone(),
    );
    tokio::task::spawn_blocking(move || copy_file(&src_db, &dst_db, &flag)).await??;
    cancel.check()?;
    let copied = staging.join(DB_FILE);
    let (sha, _) = tokio::task::spawn_blocking(move || sha256_file(&copied)).await??;
    if sha != manifest.database.sha256 {
        anyhow::bail!("the database copy does not match the manifest's checksum");
    }
    let (version, _) = inspect_copy(&staging.join(DB_FILE)).await?;
    if version != manifest.schema_version {
        anyhow::bail!(
            "the database's schema is {version}, its manifest says {}",
            manifest.schema_version
        );
    }
    sync_dir(staging)?;
    Ok(())
}

fn read_manifest(from: &Path) -> anyhow::Result<Manifest> {
    let path = from.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{} cannot be read ({e}): not a complete seedgate backup",
            path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a backup manifest: {e}", path.display()))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        anyhow::bail!(
            "{} is format {} v{}, expected {FORMAT} v{FORMAT_VERSION}",
            path.display(),
            manifest.format,
            manifest.format_version
        );
    }
    // Names inside the backup, never paths out of it.
    for name in [&manifest.database.file, &manifest.media.dir] {
        let plain = Path::new(name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain || name.is_empty() {
            anyhow::bail!("{} names `{name}`, not a plain file name", path.display());
        }
    }
    if manifest.database.sha256.len() != 64 {
        anyhow::bail!("{} has no valid database checksum", path.display());
    }
    Ok(manifest)
}

/// Creates `dir` if missing; refuses one holding anything but leftovers (`<prefix><pid>`) of a
/// process that no longer runs, which it removes.
fn prepare_empty_dir(dir: &Path, leftover_prefix: &str) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{} exists and is not a directory", dir.display());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let dead = name
            .strip_prefix(leftover_prefix)
            .and_then(|pid| pid.parse::<i32>().ok())
            .is_some_and(|pid| !process_alive(pid));
        if dead {
            stale.push(entry.path());
        } else {
            anyhow::bail!(
                "{} is not empty (it holds {name}); refusing to write over anything",
                dir.display()
            );
        }
    }
    for path in stale {
        std::fs::remove_dir_all(&path)
            .map_err(|e| anyhow::anyhow!("cannot remove the leftover {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks existence; EPERM means it exists under another user.
    // SAFETY: kill with signal 0 sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: i32) -> bool {
    true
}

/// Copies the regular files under `from` into `to` (created), each synced; skips
/// object_store's staging files (`name#suffix`, an upload in progress) and files deleted while
/// copying. Returns (files, bytes).
fn copy_tree(from: &Path, to: &Path, cancel: &Cancel) -> anyhow::Result<(u64, u64)> {
    std::fs::create_dir_all(to)?;
    let (mut files, mut bytes) = (0u64, 0u64);
    if !from.exists() {
        return Ok((0, 0));
    }
    let mut dirs = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = dirs.pop() {
        let entries = match std::fs::read_dir(&src) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", src.display())),
        };
        for entry in entries {
            cancel.check()?;
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().contains('#') {
                continue;
            }
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let target = dst.join(&name);
            if kind.is_dir() {
                std::fs::create_dir_all(&target)?;
                dirs.push((entry.path(), target));
            } else if kind.is_file() {
                match copy_file(&entry.path(), &target, cancel) {
                    Ok(n) => {
                        files += 1;
                        bytes += n;
                    }
                    Err(e)
                        if e.downcast_ref::<std::io::Error>()
                            .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
                    {
                        let _ = std::fs::remove_file(&target);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        sync_dir(&dst)?;
    }
    Ok((files, bytes))
}

/// Copies one file in chunks (checking for cancellation), then syncs it; returns its size.
fn copy_file(from: &Path, to: &Path, cancel: &Cancel) -> anyhow::Result<u64> {
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", to.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        cancel.check()?;
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        dst.write_all(buf.get(..n).unwrap_or_default())?;
        total += n as u64;
    }
    dst.sync_all()?;
    Ok(total)
}

fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
