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
//!
//! Clients' writes go first. A write begun inside [`urgent`] (the HTTP layer wraps every request
//! in it) queues for the connection directly; every other write (the workers', the callback
//! dispatcher's, the janitor's) first takes its turn at a gate that lets one background writer
//! at a time into that queue. So a submit waits behind at most one background member, not
//! behind a backlog of them, while background work still gets the connection at every turn the
//! clients leave, and never starves: the queue is fair.

use crate::{StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Executor};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex, Notify, OwnedMutexGuard};

tokio::task_local! {
    /// Set around a client's request: its writes queue ahead of the background's.
    static URGENT: ();
}

/// Runs `work` with its write transactions queued ahead of background ones (see the module's
/// documentation). Outside the embedded store it changes nothing.
pub async fn urgent<F: std::future::Future>(work: F) -> F::Output {
    URGENT.scope((), work).await
}

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
    members: usize,
    fate: watch::Sender<Fate>,
}

struct State {
    conn: SqliteConnection,
    group: Option<Group>,
    /// The savepoint of a member dropped half-way (an error, a cancelled caller): undone by the
    /// next holder of the connection before anything else.
    abandoned: Option<String>,
    /// Names each member's savepoint: a name of its own, so that undoing one can never reach
    /// into another's work.
    savepoints: u64,
}

struct Shared {
    state: Arc<Mutex<State>>,
    /// Members waiting for the connection (at the background gate or in its queue): while
    /// there are any, a committing member leaves the group open for them.
    queued: AtomicUsize,
    /// Lets background writers into the connection's queue one at a time.
    background: Mutex<()>,
    groups: AtomicU64,
    /// Wakes the sweeper: a group may be open with nobody left to commit it.
    sweep: Arc<Notify>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The sweeper finds the writer gone and ends.
        self.sweep.notify_one();
    }
}

/// The process's one writer connection.
#[derive(Clone)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<(), sqlx::Error> {
    conn.execute(sqlx::raw_sql(sql)).await.map(|_| ())
}

impl State {
    /// Ends the group with `failure` (rolling back whatever it holds).
    async fn fail_group(&mut self, failure: GroupFailure) -> StoreError {
        let _ = exec(&mut self.conn, "ROLLBACK").await;
        self.abandoned = None;
        if let Some(group) = self.group.take() {
            group.fate.send_replace(Some(Err(failure.clone())));
        }
        failure.into_error()
    }

    /// Undoes one member's writes (back to its savepoint), keeping the rest of the group.
    async fn undo(&mut self, savepoint: &str) -> StoreResult<()> {
        for sql in [
            format!("ROLLBACK TO SAVEPOINT {savepoint}"),
            format!("RELEASE SAVEPOINT {savepoint}"),
        ] {
            if let Err(e) = exec(&mut self.conn, &sql).await {
                // SQLite rolled the whole transaction back (a full disk can): the group is lost.
                return Err(self.fail_group(GroupFailure::of(&e)).await);
            }
        }
        Ok(())
    }

    async fn recover(&mut self) {
        if let Some(savepoint) = self.abandoned.clone() {
            let _ = self.undo(&savepoint).await;
            self.abandoned = None;
        }
    }

    /// Commits the open group (rolls back one whose members all rolled back) and tells its
    /// members. The group stays recorded until its fate is known, so a holder interrupted
    /// half-way leaves it to the next.
    async fn commit_group(&mut self) {
        let Some(members) = self.group.as_ref().map(|g| g.members) else {
            return;
        };
        let fate = if members == 0 {
            // Nothing to make durable.
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
        if let Some(group) = self.group.take() {
            group.fate.send_replace(Some(fate));
        }
    }
}

/// Counts a member waiting for the connection while it exists.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    pub(crate) async fn open(options: &SqliteConnectOptions) -> StoreResult<Self> {
        let conn = options.connect().await?;
        let sweep = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            state: Arc::new(Mutex::new(State {
                conn,
                group: None,
                abandoned: None,
                savepoints: 0,
            })),
            queued: AtomicUsize::new(0),
            background: Mutex::new(()),
            groups: AtomicU64::new(0),
            sweep: sweep.clone(),
        });
        tokio::spawn(sweeper(Arc::downgrade(&shared), sweep));
        Ok(Self { shared })
    }

    /// A write transaction: a member of the open group, or of a new one.
    pub(crate) async fn begin(&self) -> StoreResult<WriteTx> {
        let shared = &self.shared;
        let mut state = {
            let _queued = Queued::new(&shared.queued);
            let _gate = match URGENT.try_with(|_| ()) {
                Ok(()) => None,
                Err(_) => Some(shared.background.lock().await),
            };
            shared.state.clone().lock_owned().await
        };
        // Dropped before the member exists (a cancelled caller), this wakes the sweeper: the
        // group may have been left open for this member.
        let mut sweep_unless_begun = SweepUnless {
            notify: &shared.sweep,
            begun: false,
        };
        state.recover().await;
        if state.group.is_none() {
            if exec(&mut state.conn, "BEGIN IMMEDIATE").await.is_err() {
                // A transaction a failure left open is ended; a busy file is waited for again.
                let _ = exec(&mut state.conn, "ROLLBACK").await;
                exec(&mut state.conn, "BEGIN IMMEDIATE").await?;
            }
            shared.groups.fetch_add(1, Ordering::Relaxed);
            state.group = Some(Group {
                members: 0,
                fate: watch::channel(None).0,
            });
        }
        state.savepoints += 1;
        let savepoint = format!("m{}", state.savepoints);
        if let Err(e) = exec(&mut state.conn, &format!("SAVEPOINT {savepoint}")).await {
            return Err(state.fail_group(GroupFailure::of(&e)).await);
        }
        sweep_unless_begun.begun = true;
        Ok(WriteTx {
            state: Some(state),
            savepoint,
            writer: self.clone(),
        })
    }

    /// Whether a committing member should commit the group now rather than leave it open.
    fn nobody_waiting(&self) -> bool {
        self.shared.queued.load(Ordering::SeqCst) == 0
    }
}

struct SweepUnless<'a> {
    notify: &'a Notify,
    begun: bool,
}

impl Drop for SweepUnless<'_> {
    fn drop(&mut self) {
        if !self.begun {
            self.notify.notify_one();
        }
    }
}

/// Commits a group left open for members that never came (their callers gave up waiting) or
/// by a member dropped half-way: woken when that may have happened, it waits a moment for the
/// next member to carry the group on, then commits it if nobody is waiting.
async fn sweeper(shared: std::sync::Weak<Shared>, sweep: Arc<Notify>) {
    loop {
        sweep.notified().await;
        loop {
            tokio::time::sleep(CARRY_ON_PATIENCE).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let mut state = shared.state.lock().await;
            state.recover().await;
            if state.group.is_none() {
                break;
            }
            if shared.queued.load(Ordering::SeqCst) == 0 {
                state.commit_group().await;
                break;
            }
            // Someone is waiting and will carry it on; look again in a moment.
        }
    }
}

/// One member: derefs to the connection; `commit` or `rollback` it (dropping it rolls it back).
pub(crate) struct WriteTx {
    state: Option<OwnedMutexGuard<State>>,
    savepoint: String,
    writer: Writer,
}

impl WriteTx {
    /// Keeps this member's writes and returns once the group holding them is durable.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        let Some(state) = self.state.as_mut() else {
            return Err(StoreError::Conflict(
                "the write transaction has ended".into(),
            ));
        };
        // Interrupted here, the member is dropped and undone (or, released already, its group
        // fails: nobody in it has been told anything yet).
        if let Err(e) = exec(
            &mut state.conn,
            &format!("RELEASE SAVEPOINT {}", self.savepoint),
        )
        .await
        {
            let failure = state.fail_group(GroupFailure::of(&e)).await;
            self.state = None;
            return Err(failure);
        }
        let Some(mut state) = self.state.take() else {
            return Err(StoreError::Conflict(
                "the write transaction has ended".into(),
            ));
        };
        let Some(group) = state.group.as_mut() else {
            return Err(StoreError::Conflict("the write group has ended".into()));
        };
        group.members += 1;
        let (members, mut fate) = (group.members, group.fate.subscribe());
        if self.writer.nobody_waiting() || members >= MAX_MEMBERS {
            // The last of its group commits it, on a task of its own: the group's COMMIT must
            // finish, and its members be told, even if this caller stops waiting.
            tokio::spawn(async move { state.commit_group().await });
        } else {
            // Left open for the members waiting; if they all give up before their turn, the
            // sweeper commits it.
            drop(state);
            self.writer.shared.sweep.notify_one();
        }
        let outcome = fate
            .wait_for(Option::is_some)
            .await
            .map(|fate| fate.clone());
        match outcome {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(failure))) => Err(failure.into_error()),
            Ok(None) | Err(_) => Err(StoreError::Conflict(
                "the write group ended without committing".into(),
            )),
        }
    }

    /// Undoes this member's writes; the rest of its group is kept.
    pub(crate) async fn rollback(mut self) -> StoreResult<()> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let undone = state.undo(&self.savepoint).await;
        if let Some(mut state) = self.state.take() {
            if self.writer.nobody_waiting() {
                tokio::spawn(async move { state.commit_group().await });
            } else {
                drop(state);
                self.writer.shared.sweep.notify_one();
            }
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
        // Neither committed nor rolled back (an error, a dropped caller): the next holder of
        // the connection undoes it first, and the sweeper commits the rest of the group if no
        // one else comes.
        state.abandoned = Some(std::mem::take(&mut self.savepoint));
        drop(state);
        self.writer.shared.sweep.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteJournalMode, SqlitePool, SqliteSynchronous};
    use std::str::FromStr;

    struct Scratch {
        _dir: tempfile::TempDir,
        writer: Writer,
        /// Another connection: what it reads has been committed.
        reader: SqlitePool,
    }

    async fn scratch() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = SqliteConnectOptions::from_str("sqlite://")
            .expect("options")
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let reader = SqlitePool::connect_with(options.clone())
            .await
            .expect("reader");
        sqlx::raw_sql(
            "CREATE TABLE rows (n INTEGER NOT NULL); \
             CREATE TABLE parents (id INTEGER PRIMARY KEY); \
             CREATE TABLE children (parent INTEGER REFERENCES parents(id) \
                 DEFERRABLE INITIALLY DEFERRED);",
        )
        .execute(&reader)
        .await
        .expect("schema");
        let writer = Writer::open(&options).await.expect("writer");
        Scratch {
            _dir: dir,
            writer,
            reader,
        }
    }

    async fn insert(tx: &mut WriteTx, n: i64) {
        sqlx::query("INSERT INTO rows (n) VALUES ($1)")
            .bind(n)
            .execute(&mut **tx)
            .await
            .expect("insert");
    }

    async fn committed(reader: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM rows ORDER BY n")
            .fetch_all(reader)
            .await
            .expect("read")
    }

    /// A client's write waits behind at most one background writer, however many are queued;
    /// the background writers still all get their turn, in order, and every write commits.
    #[tokio::test]
    async fn a_clients_write_overtakes_queued_background_writes() {
        let s = scratch().await;
        let holder = s.writer.begin().await.expect("begin");
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let member = |n: i64, client: bool| {
            let (writer, order) = (s.writer.clone(), order.clone());
            let work = async move {
                let mut tx = writer.begin().await.expect("begin");
                order.lock().expect("lock").push(n);
                insert(&mut tx, n).await;
                tx.commit().await.expect("commit");
            };
            tokio::spawn(async move {
                if client {
                    urgent(work).await
                } else {
                    work.await
                }
            })
        };
        let mut members = Vec::new();
        for n in 1..=5 {
            members.push(member(n, false));
            until_queued(&s.writer, n as usize).await;
        }
        members.push(member(100, true));
        until_queued(&s.writer, 6).await;
        holder.commit().await.expect("commit");
        for m in members {
            m.await.expect("join");
        }
        let order = order.lock().expect("lock").clone();
        let client = order
            .iter()
            .position(|&n| n == 100)
            .expect("the client wrote");
        assert!(
            client <= 1,
            "the client's write waited behind {client}: {order:?}"
        );
        let background: Vec<i64> = order.iter().copied().filter(|&n| n != 100).collect();
        assert_eq!(
            background,
            [1, 2, 3, 4, 5],
            "background writes keep their order"
        );
        assert_eq!(committed(&s.reader).await, [1, 2, 3, 4, 5, 100]);
    }

    /// Waits until `n` members are queued for the connection.
    async fn until_queued(writer: &Writer, n: usize) {
        for _ in 0..500 {
            if writer.shared.queued.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{n} members never queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_arriving_together_share_commits_and_each_is_durable_when_told() {
        let s = scratch().await;
        let members = 64;
        let mut joins = Vec::new();
        for n in 0..members {
            let (writer, reader) = (s.writer.clone(), s.reader.clone());
            joins.push(tokio::spawn(async move {
                let mut tx = writer.begin().await.expect("begin");
                insert(&mut tx, n).await;
                tx.commit().await.expect("commit");
                // Told it committed: another connection sees it.
                let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rows WHERE n = $1")
                    .bind(n)
                    .fetch_one(&reader)
                    .await
                    .expect("read");
                assert_eq!(seen, 1, "member {n} was told before its row was committed");
            }));
        }
        for join in joins {
            join.await.expect("member");
        }
        assert_eq!(committed(&s.reader).await, (0..members).collect::<Vec<_>>());
        let groups = s.writer.shared.groups.load(Ordering::Relaxed);
        assert!(
            groups < members as u64,
            "{members} members arriving together took {groups} commits"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_rolled_back_or_dropped_is_undone_alone() {
        let s = scratch().await;
        let mut first = s.writer.begin().await.expect("begin");
        insert(&mut first, 1).await;
        // The next members queue while the first holds the connection, so all share its group.
        let writer = s.writer.clone();
        let others = tokio::spawn(async move {
            let mut dropped = writer.begin().await.expect("begin");
            insert(&mut dropped, 2).await;
            drop(dropped);
            let mut undone = writer.begin().await.expect("begin");
            insert(&mut undone, 3).await;
            undone.rollback().await.expect("rollback");
            let mut kept = writer.begin().await.expect("begin");
            insert(&mut kept, 4).await;
            kept.commit().await.expect("commit");
        });
        until_queued(&s.writer, 1).await;
        first.commit().await.expect("the first member commits");
        others.await.expect("others");
        assert_eq!(committed(&s.reader).await, vec![1, 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_whose_commit_fails_tells_every_member_and_keeps_nothing() {
        let s = scratch().await;
        let mut first = s.writer.begin().await.expect("begin");
        insert(&mut first, 1).await;
        let writer = s.writer.clone();
        let second = tokio::spawn(async move {
            let mut tx = writer.begin().await.expect("begin");
            // A child without its parent: fine until the commit checks deferred keys.
            sqlx::query("INSERT INTO children (parent) VALUES (99)")
                .execute(&mut *tx)
                .await
                .expect("insert");
            tx.commit().await
        });
        until_queued(&s.writer, 1).await;
        let first_told = first.commit().await;
        let second_told = second.await.expect("second");
        assert!(
            first_told.is_err(),
            "a member was told its write committed though its group's COMMIT failed"
        );
        assert!(second_told.is_err());
        assert!(committed(&s.reader).await.is_empty());
        let children: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM children")
            .fetch_one(&s.reader)
            .await
            .expect("read");
        assert_eq!(children, 0);
        // The writer goes on.
        let mut next = s.writer.begin().await.expect("begin after a failed group");
        insert(&mut next, 5).await;
        next.commit().await.expect("commit");
        assert_eq!(committed(&s.reader).await, vec![5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_that_gives_up_waiting_does_not_strand_the_group() {
        let s = scratch().await;
        let mut first = s.writer.begin().await.expect("begin");
        insert(&mut first, 1).await;
        // Another caller starts to begin, then gives up while the first holds the connection.
        let writer = s.writer.clone();
        let impatient = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(50), writer.begin())
                .await
                .is_err()
        });
        until_queued(&s.writer, 1).await;
        assert!(impatient.await.expect("impatient"), "the begin timed out");
        // The first leaves the group open for the queued one, whose caller gave up; the begin
        // it started still takes its turn, and, dropped unused, commits the group.
        tokio::time::timeout(Duration::from_secs(10), first.commit())
            .await
            .expect("the group was committed without the member that left")
            .expect("commit");
        assert_eq!(committed(&s.reader).await, vec![1]);
        // Nothing is left half-open: the next member works.
        let mut next = s.writer.begin().await.expect("begin");
        insert(&mut next, 2).await;
        next.commit().await.expect("commit");
        assert_eq!(committed(&s.reader).await, vec![1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_left_open_for_a_member_that_is_then_dropped_is_committed_by_the_sweeper() {
        let s = scratch().await;
        let mut first = s.writer.begin().await.expect("begin");
        insert(&mut first, 1).await;
        let writer = s.writer.clone();
        let dropped = tokio::spawn(async move {
            let mut tx = writer.begin().await.expect("begin");
            insert(&mut tx, 2).await;
            drop(tx);
        });
        until_queued(&s.writer, 1).await;
        // Left open for the queued member, which writes and is dropped: only the sweeper is
        // left to undo it and commit the first.
        tokio::time::timeout(Duration::from_secs(10), first.commit())
            .await
            .expect("the group was committed")
            .expect("commit");
        dropped.await.expect("dropped");
        assert_eq!(committed(&s.reader).await, vec![1]);
        let mut next = s.writer.begin().await.expect("begin");
        insert(&mut next, 3).await;
        next.commit().await.expect("commit");
        assert_eq!(committed(&s.reader).await, vec![1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_left_open_for_waiters_who_all_give_up_is_committed_by_the_sweeper() {
        let s = scratch().await;
        let mut first = s.writer.begin().await.expect("begin");
        insert(&mut first, 1).await;
        // A waiter, as the committing member sees it; it gives up after that look, before its
        // turn (a race too narrow to arrange with real callers).
        s.writer.shared.queued.fetch_add(1, Ordering::SeqCst);
        let committing = tokio::spawn(first.commit());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !committing.is_finished(),
            "the group was committed though a member was waiting"
        );
        s.writer.shared.queued.fetch_sub(1, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(10), committing)
            .await
            .expect("the group left open was committed")
            .expect("join")
            .expect("commit");
        assert_eq!(committed(&s.reader).await, vec![1]);
    }
}
