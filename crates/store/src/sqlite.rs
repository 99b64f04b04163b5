//! The embedded store: one SQLite file in WAL mode with `synchronous = FULL` (a commit survives
//! power loss; this is money), `busy_timeout` on every connection, and every write transaction
//! opened with `BEGIN IMMEDIATE` so that a read-then-write never fails on lock upgrade.

use crate::group_commit::{WriteTx, Writer};
use crate::*;
use shared::KeyLock;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;

// Compiled once per backend on purpose: the same queries, each against its own `Db`.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

type Db = sqlx::Sqlite;
type This = SqliteStore;

/// No row locks: `BEGIN IMMEDIATE` already makes each write transaction run alone.
const ROW_LOCK: &str = "";
const SKIP_LOCKED: &str = "";

/// Usage reports: JSON fields with `json_extract`, UTC days and months with `strftime`.
const USAGE_SQL: crate::usage::UsageSql = crate::usage::UsageSql {
    resolution: "json_extract(t.request_json, '$.resolution')",
    mode: "json_extract(t.request_json, '$.mode')",
    day: "strftime('%Y-%m-%d', e.created_at_ms / 1000, 'unixepoch')",
    month: "strftime('%Y-%m', e.created_at_ms / 1000, 'unixepoch')",
    rollup_day: "strftime('%Y-%m-%d', r.day * 86400, 'unixepoch')",
    rollup_month: "strftime('%Y-%m', r.day * 86400, 'unixepoch')",
};

/// The database's size on disk (its pages; the WAL is transient).
const DATABASE_BYTES: &str =
    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";

#[derive(Clone)]
pub struct SqliteStore {
    /// Reads: several connections, each reading its own snapshot while writes go on.
    pool: SqlitePool,
    /// Every write transaction: one connection, with group commit (`group_commit.rs`).
    writer: Writer,
    /// This process makes every commit to its file, so the feed hears them all.
    feed: crate::changes::ChangeFeed,
}

/// A transaction of either kind; both read as the connection they run on.
pub(crate) enum Tx {
    /// A snapshot on a read connection.
    Read(sqlx::Transaction<'static, Db>),
    /// A member of the writer's group.
    Write(WriteTx),
}

impl Tx {
    pub(crate) async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Read(tx) => Ok(tx.commit().await?),
            Tx::Write(tx) => tx.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> StoreResult<()> {
        match self {
            Tx::Read(tx) => Ok(tx.rollback().await?),
            Tx::Write(tx) => tx.rollback().await,
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &sqlx::SqliteConnection {
        match self {
            Tx::Read(tx) => tx,
            Tx::Write(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut sqlx::SqliteConnection {
        match self {
            Tx::Read(tx) => tx,
            Tx::Write(tx) => tx,
        }
    }
}

impl crate::changes::ChangeSource for SqliteStore {
    fn changes(&self) -> &crate::changes::ChangeFeed {
        &self.feed
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        // Processes opening one file at once (replicas starting together on one volume, a
        // restart overlapping the old process) take turns at the lock: switching a restored
        // or upgraded file to WAL and applying pending migrations are then done by one at a
        // time, and the next finds them done. A process already serving never takes it.
        let _migrating = MigrationLock::acquire(path).await?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .before_acquire(|conn, _| Box::pin(still_usable(conn)))
            .connect_with(options.clone())
            .await?;
        let writer = Writer::open(&options).await?;
        let store = Self {
            pool,
            writer,
            feed: crate::changes::ChangeFeed::new(true),
        };
        store.migrate().await?;
        store.check_settings().await?;
        Ok(store)
    }

    /// Applies the pending migrations, each in its own transaction (forward only).
    ///
    /// sqlx takes no lock on SQLite; `open` holds the migration lock file around this, so
    /// processes on one machine migrate one at a time. Where that lock cannot hold (a network
    /// filesystem that ignores it), SQLite's one writer still orders them: the first commits,
    /// the others' transactions fail whole (the table or column exists by then) and leave
    /// nothing. So a failed run is tried again, a few times, a moment later: it then finds the
    /// migration applied and goes on; a migration that is really broken still fails, after
    /// the last try.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = sqlx::migrate!("./migrations/sqlite");
        let mut tries: u64 = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(_) if tries < 4 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Asserts the durability settings took effect, so a misconfigured pool fails loudly.
    async fn check_settings(&self) -> StoreResult<()> {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await?;
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&self.pool)
            .await?;
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&self.pool)
            .await?;
        if !mode.eq_ignore_ascii_case("wal") || sync != 2 || busy <= 0 {
            return Err(StoreError::Corrupt(format!(
                "unexpected SQLite settings: journal_mode={mode} synchronous={sync} busy_timeout={busy}"
            )));
        }
        Ok(())
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        Ok(Tx::Write(self.writer.begin().await?))
    }

    /// One write statement, as a member of the writer's group.
    async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> StoreResult<sqlx::sqlite::SqliteQueryResult> {
        let mut tx = self.write_tx().await?;
        let result = query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// A read transaction: in WAL mode, one consistent snapshot while writers carry on.
    async fn read_tx(&self) -> StoreResult<Tx> {
        Ok(Tx::Read(self.pool.begin().await?))
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Whether a pooled connection may be handed out. A full disk (`SQLITE_FULL`) can make SQLite
/// roll a transaction back by itself; sqlx's own ROLLBACK then fails and the connection keeps
/// believing it is inside a transaction, refusing every later `BEGIN`. Such a connection is
/// closed (the pool opens a fresh one) so that writes work again once space is freed. The ping
/// waits for a rollback still queued from the transaction's drop.
async fn still_usable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

/// An exclusive lock on `<database>.migrate-lock`, held while a process opens the database
/// and brings its schema up to date; released when dropped (or when the process dies: the
/// operating system drops a dead holder's lock, so a crash never leaves it stuck).
struct MigrationLock(std::fs::File);

impl MigrationLock {
    /// How long a process waits for another's migrations before giving up.
    const PATIENCE: Duration = Duration::from_secs(600);

    async fn acquire(database: &Path) -> StoreResult<Self> {
        let mut name = database.as_os_str().to_owned();
        name.push(".migrate-lock");
        let path = std::path::PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| lock_error(format!("cannot open {}: {e}", path.display())))?;
        let deadline = tokio::time::Instant::now() + Self::PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self(file)),
                Err(std::fs::TryLockError::WouldBlock)
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(lock_error(format!(
                        "another process has held {} for {} s (migrating the database?)",
                        path.display(),
                        Self::PATIENCE.as_secs()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(lock_error(format!("cannot lock {}: {e}", path.display())))
                }
            }
        }
    }
}

fn lock_error(message: String) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(message)))
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Writers are serial already (`BEGIN IMMEDIATE`): nothing more to take.
async fn lock_key(_tx: &mut Tx, _lock: KeyLock, _key: &str) -> StoreResult<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process opening the file while another holds the migration lock waits for it, and
    /// then opens normally: the holder's migrations are not raced.
    #[tokio::test]
    async fn opening_waits_while_another_holds_the_migration_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seedgate.db");
        let held = MigrationLock::acquire(&path).await.expect("lock");
        let opener = {
            let path = path.clone();
            tokio::spawn(async move { SqliteStore::open(&path).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !opener.is_finished(),
            "the store opened while another process held the migration lock"
        );
        assert!(
            !path.exists(),
            "the database was created under another's lock"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(30), opener)
            .await
            .expect("opened once the lock was released")
            .expect("join")
            .expect("open");
    }
}
