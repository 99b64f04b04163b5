//! Group commit for the embedded store: every write transaction of the process shares one SQLite
//! connection, and write transactions that follow each other closely share one commit.
//!
//! With `synchronous = FULL` each commit waits for the disk, and SQLite admits one writer at a
//! time; a task's life (claim, submit record, upstream job, timeline lines, settlement) is a
//! dozen small write transactions, so at a few hundred tasks a second the commits alone kept the
//! one writer busy. Here a write transaction is a *member* of the open *group*: one `BEGIN
//! IMMEDIATE` transaction on the writer connection, inside which each member runs in its own
//! savepoint. A member that fails or is dropped is rolled back to its savepoint alone; one that
//! commits releases its savepoint and, if no other member is waiting for the connection, commits
//! the group; otherwise the next member carries the group on and the last one commits it. No
//! member's `commit` returns before the group's `COMMIT` is durable, so nothing is acknowledged
//! early, and if that `COMMIT` fails every member of the group gets the error.
//!
//! Waiting for the connection is a fair queue (a Tokio mutex), not SQLite's busy handler, which
//! sleeps 1, 2, 5, 10, ... ms between tries. Another process's writes (a backup, the CLI)
//! still meet the busy handler, and wait at most for one group.
//!
//! A member must not wait, while it holds its transaction, for anything that needs another
//! write transaction of this process to finish: the connection is one, so that would never end.

use crate::{StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Executor};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

/// Most members in one group: a steady stream of writers still commits this often.
const MAX_MEMBERS: usize = 256;

/// How long a member that left its group open for the next one waits before committing the
/// group itself (the next one may have given up waiting for the connection).
const CARRY_ON_PATIENCE: Duration = Duration::from_millis(20);

/// Why a group did not commit, told to each of its members.
#[derive(Debug, Clone)]
enum GroupFailure {
    StorageFull,
    Other(String),
}

impl GroupFailure {
    fn of(e: &sqlx::Error) -> Self {
        // SQLITE_FULL: what SQLite answers when a write meets ENOSPC.
        match e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("13") => {
                GroupFailure::StorageFull
            }
            other => GroupFailure::Other(other.to_string()),
        }
    }

    fn into_error(self) -> StoreError {
        match self {
            GroupFailure::StorageFull => StoreError::StorageFull,
            GroupFailure::Other(message) => StoreError::Database(sqlx::Error::Io(
                std::io::Error::other(format!("the write group did not commit: {message}")),
            )),
        }
    }
}

type Fate = Option<Result<(), GroupFailure>>;

/// The open transaction and how its members learn whether it committed.
struct Group {
    id: u64,
    members: usize,
    fate: watch::Sender<Fate>,
}

struct State {
    conn: SqliteConnection,
    group: Option<Group>,
    /// A member was dropped without a runtime to undo it: its savepoint is undone by the next
    /// holder of the connection before anything else.
    abandoned: bool,
}

/// The process's one writer connection.
#[derive(Clone)]
pub(crate) struct Writer {
    state: Arc<Mutex<State>>,
    /// Members waiting for the connection: while there are any, a committing member leaves
    /// the group open for them.
    queued: Arc<AtomicUsize>,
    groups: Arc<AtomicU64>,
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    conn.execute(sqlx::raw_sql(sql)).await.map(|_| ())
}

impl State {
    /// Ends the group with `failure` (rolling back whatever it holds).
    async fn fail_group(&mut self, failure: GroupFailure) -> StoreError {
        let _ = exec(&mut self.conn, "ROLLBACK").await;
        if let Some(group) = self.group.take() {
            group.fate.send_replace(Some(Err(failure.clone())));
        }
        failure.into_error()
    }

    /// Undoes the member holding the connection (its savepoint), keeping the rest of the group.
    async fn undo_member(&mut self) -> StoreResult<()> {
        self.abandoned = false;
        for sql in ["ROLLBACK TO SAVEPOINT member", "RELEASE SAVEPOINT member"] {
            if let Err(e) = exec(&mut self.conn, sql).await {
                // SQLite rolled the whole transaction back (a full disk can): the group is lost.
                return Err(self.fail_group(GroupFailure::of(&e)).await);
            }
        }
        Ok(())
    }

    async fn recover(&mut self) {
        if self.abandoned {
            let _ = self.undo_member().await;
        }
    }

    async fn commit_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let fate = if group.members == 0 {
            // Every member rolled back: nothing to make durable.
            exec(&mut self.conn, "ROLLBACK")
                .await
                .map_err(|e| GroupFailure::of(&e))
        } else {
            match exec(&mut self.conn, "COMMIT").await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = exec(&mut self.conn, "ROLLBACK").await;
                    Err(GroupFailure::of(&e))
                }
            }
        };
        group.fate.send_replace(Some(fate));
    }
}

impl Writer {
    pub(crate) async fn open(options: &SqliteConnectOptions) -> StoreResult<Self> {
        let conn = options.connect().await?;
        Ok(Self {
            state: Arc::new(Mutex::new(State {
                conn,
                group: None,
                abandoned: false,
            })),
            queued: Arc::new(AtomicUsize::new(0)),
            groups: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A write transaction: a member of the open group, or of a new one.
    pub(crate) async fn begin(&self) -> StoreResult<WriteTx> {
        let writer = self.clone();
        // Spawned, so that a caller dropped half-way never leaves the connection between states.
        tokio::spawn(async move { writer.begin_inner().await })
            .await
            .map_err(|e| StoreError::Conflict(format!("beginning a write failed: {e}")))?
    }

    async fn begin_inner(self) -> StoreResult<WriteTx> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.clone().lock_owned().await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        state.recover().await;
        if state.group.is_none() {
            if exec(&mut state.conn, "BEGIN IMMEDIATE").await.is_err() {
                // A transaction a failure left open is ended; a busy file is waited for again.
                let _ = exec(&mut state.conn, "ROLLBACK").await;
                exec(&mut state.conn, "BEGIN IMMEDIATE").await?;
            }
            state.group = Some(Group {
                id: self.groups.fetch_add(1, Ordering::Relaxed),
                members: 0,
                fate: watch::channel(None).0,
            });
        }
        if let Err(e) = exec(&mut state.conn, "SAVEPOINT member").await {
            return Err(state.fail_group(GroupFailure::of(&e)).await);
        }
        Ok(WriteTx {
            state: Some(state),
            writer: self,
        })
    }

    /// Whether a committing member should commit the group now rather than leave it open.
    fn nobody_waiting(&self) -> bool {
        self.queued.load(Ordering::SeqCst) == 0
    }
}

/// One member: derefs to the connection; `commit` or `rollback` it (dropping it rolls it back).
pub(crate) struct WriteTx {
    state: Option<OwnedMutexGuard<State>>,
    writer: Writer,
}

impl WriteTx {
    /// Keeps this member's writes and returns once the group holding them is durable.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        let Some(state) = self.state.take() else {
            return Err(StoreError::Conflict(
                "the write transaction has ended".into(),
            ));
        };
        let writer = self.writer.clone();
        // Spawned: a caller dropped while waiting must not leave the group without a committer.
        tokio::spawn(async move { writer.commit_member(state).await })
            .await
            .map_err(|e| StoreError::Conflict(format!("committing a write failed: {e}")))?
    }

    /// Undoes this member's writes; the rest of its group is kept.
    pub(crate) async fn rollback(mut self) -> StoreResult<()> {
        let Some(state) = self.state.take() else {
            return Ok(());
        };
        let writer = self.writer.clone();
        tokio::spawn(async move { writer.rollback_member(state).await })
            .await
            .map_err(|e| StoreError::Conflict(format!("rolling back a write failed: {e}")))?
    }
}

impl Writer {
    async fn commit_member(&self, mut state: OwnedMutexGuard<State>) -> StoreResult<()> {
        if let Err(e) = exec(&mut state.conn, "RELEASE SAVEPOINT member").await {
            return Err(state.fail_group(GroupFailure::of(&e)).await);
        }
        let Some(group) = state.group.as_mut() else {
            return Err(StoreError::Conflict("the write group has ended".into()));
        };
        group.members += 1;
        let (id, members, mut fate) = (group.id, group.members, group.fate.subscribe());
        if self.nobody_waiting() || members >= MAX_MEMBERS {
            state.commit_group().await;
        }
        drop(state);
        loop {
            let waited = tokio::time::timeout(CARRY_ON_PATIENCE, fate.wait_for(Option::is_some))
                .await
                .map(|seen| seen.map(|fate| fate.clone()));
            match waited {
                Ok(Ok(Some(Ok(())))) => return Ok(()),
                Ok(Ok(Some(Err(failure)))) => return Err(failure.into_error()),
                Ok(Ok(None)) | Ok(Err(_)) => {
                    return Err(StoreError::Conflict(
                        "the write group ended without committing".into(),
                    ))
                }
                // The member the group was left open for has not committed it: do it here.
                Err(_) => {
                    let mut state = self.state.clone().lock_owned().await;
                    state.recover().await;
                    if state.group.as_ref().is_some_and(|g| g.id == id) {
                        state.commit_group().await;
                    }
                }
            }
        }
    }

    async fn rollback_member(&self, mut state: OwnedMutexGuard<State>) -> StoreResult<()> {
        let undone = state.undo_member().await;
        if self.nobody_waiting() {
            state.commit_group().await;
        }
        undone
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match &self.state {
            Some(state) => &state.conn,
            // Only `commit` and `rollback` take the state, and they consume the member.
            None => unreachable!("a write transaction used after it ended"),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match &mut self.state {
            Some(state) => &mut state.conn,
            None => unreachable!("a write transaction used after it ended"),
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        // Neither committed nor rolled back (an error, a dropped caller): undo it before the
        // connection serves anyone else.
        state.abandoned = true;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let writer = self.writer.clone();
            runtime.spawn(async move {
                let _ = writer.rollback_member(state).await;
            });
        }
    }
}
