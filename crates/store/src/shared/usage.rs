//! Usage reports. Finished tasks' ledger entries are also kept summed per UTC day and per
//! grouping value (`usage_daily`, migration 0016), written in the transaction that ends the
//! task (or refunds it by hand); a report reads those sums for the whole days of its range and
//! the entries themselves only where they are not summed yet: its range's partial first and
//! last days, and within the whole days the entries not marked summed
//! (`ledger_entries.summed`, migration 0017): the holds of tasks still under way, and whatever
//! a replica of an earlier release wrote during a rolling upgrade, until the janitor sums it.
//! One statement reads all three, so the three agree with each other (one snapshot), and a
//! month over a million tasks reads some thousands of rows instead of millions.

use super::super::USAGE_SQL;
use super::*;
use crate::usage::{UsageRows, UsageStore, READERS, READ_AHEAD, STALLED_READER};
use futures::StreamExt;
use seedgate_core::usage::{Dimension, UsageFigures, UsageQuery, UsageRow};
use sqlx::Row;

const DAY_MS: i64 = 86_400_000;

/// Adds a task's entries not summed yet to the daily sums, inside the transaction that wrote
/// the last of them (its end, or an operator's manual refund) or later (the janitor, for the
/// tasks a replica of an earlier release ended). Each entry counts under its own UTC day and
/// under the task's final grouping values (its upstream account is known only once it ended,
/// hence summing at the end).
///
/// The entries are marked first (`summed = 2`): on PostgreSQL that locks them, so a second
/// transaction summing the same task waits, then finds them summed and adds nothing; only the
/// entries this one marked are summed, whatever was appended since. SQLite has one writer.
/// Whether there was anything to sum.
pub(super) async fn roll_up(tx: &mut Tx, task_id: &str) -> StoreResult<bool> {
    static SUM_MARKED: LazyLock<String> =
        LazyLock::new(|| roll_up_sql("e.task_id = $1 AND e.summed = 2"));
    let marked =
        sqlx::query("UPDATE ledger_entries SET summed = 2 WHERE task_id = $1 AND summed = 0")
            .bind(task_id)
            .execute(&mut **tx)
            .await?;
    if marked.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(&SUM_MARKED)
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE ledger_entries SET summed = 1 WHERE task_id = $1 AND summed = 2")
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

impl This {
    /// Sums the whole ledger into `usage_daily` afresh: every entry of an ended task. The
    /// store's own writes keep the sums current; this is for tools that write a history in
    /// bulk (`seedgate bench`).
    pub async fn rebuild_usage_sums(&self) -> StoreResult<()> {
        static REBUILD: LazyLock<String> = LazyLock::new(|| roll_up_sql("e.summed = 1"));
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE ledger_entries SET summed = CASE WHEN task_id IN \
             (SELECT id FROM tasks WHERE status IN ('succeeded', 'failed', 'cancelled')) \
             THEN 1 ELSE 0 END",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM usage_daily")
            .execute(&mut *tx)
            .await?;
        sqlx::query(&REBUILD).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Sums the ledger entries that `filter` picks (over `e`, the entry, and `t`, its task) into
/// `usage_daily`, a row per UTC day and grouping value.
fn roll_up_sql(filter: &str) -> String {
    let values = format!(
        "t.account_id, t.api_key_id, t.model, COALESCE({res}, ''), COALESCE({mode}, ''), \
         COALESCE(t.provider, '')",
        res = USAGE_SQL.resolution,
        mode = USAGE_SQL.mode,
    );
    let names: Vec<&str> = ENTRY_FIGURES.iter().map(|(name, _)| *name).collect();
    let sums: Vec<String> = ENTRY_FIGURES
        .iter()
        .map(|(_, expr)| format!("CAST(SUM({expr}) AS BIGINT)"))
        .collect();
    let adds: Vec<String> = names
        .iter()
        .map(|name| format!("{name} = usage_daily.{name} + excluded.{name}"))
        .collect();
    format!(
        "INSERT INTO usage_daily (day, account_id, api_key_id, model, resolution, mode, \
         provider, {names}) \
         SELECT e.created_at_ms / {DAY_MS}, {values}, {sums} \
         FROM ledger_entries e JOIN tasks t ON t.id = e.task_id \
         WHERE e.task_id IS NOT NULL AND {filter} \
         GROUP BY e.created_at_ms / {DAY_MS}, {values} \
         ON CONFLICT (day, account_id, api_key_id, model, resolution, mode, provider) \
         DO UPDATE SET {adds}",
        names = names.join(", "),
        sums = sums.join(", "),
        adds = adds.join(", "),
    )
}

/// Each summed figure: its column in `usage_daily` and what one ledger entry `e` of task `t`
/// adds to it. `refunded` counts tasks given credits back: the ledger allows a task one
/// release or one manual refund, never both, so each such entry is one task.
const ENTRY_FIGURES: [(&str, &str); 10] = [
    ("tasks", "CASE WHEN e.kind = 'hold' THEN 1 ELSE 0 END"),
    ("succeeded", "CASE WHEN e.kind = 'settle' THEN 1 ELSE 0 END"),
    (
        "failed",
        "CASE WHEN e.kind = 'release' AND t.status = 'failed' THEN 1 ELSE 0 END",
    ),
    (
        "cancelled",
        "CASE WHEN e.kind = 'release' AND t.status = 'cancelled' THEN 1 ELSE 0 END",
    ),
    (
        "refunded",
        "CASE WHEN e.kind IN ('release', 'refund') THEN 1 ELSE 0 END",
    ),
    ("refunds", "CASE WHEN e.kind = 'refund' THEN 1 ELSE 0 END"),
    (
        "credits_held",
        "CASE WHEN e.kind = 'hold' THEN -e.amount ELSE 0 END",
    ),
    (
        "credits_returned",
        "CASE WHEN e.kind IN ('settle', 'release') THEN e.amount ELSE 0 END",
    ),
    (
        "credits_refunded",
        "CASE WHEN e.kind = 'refund' THEN e.amount ELSE 0 END",
    ),
    // What the reader computes as `credits_charged`: held less returned less refunded.
    (
        "billable_seconds",
        "CASE WHEN e.kind = 'settle' THEN t.billable_seconds ELSE 0 END",
    ),
];

/// Each grouping column of `dimension`, in [`Dimension::columns`] order: over the entries (`e`
/// joined to their task `t`) and over the daily sums (`r`). Missing values are stored as `''`
/// in the sums (a key column cannot be NULL) and read back as NULL.
fn dimension_sql(dimension: Dimension) -> (&'static [&'static str], &'static [&'static str]) {
    match dimension {
        Dimension::Account => (&["t.account_id", "a.name"], &["r.account_id", "a.name"]),
        Dimension::Key => (&["t.api_key_id", "k.name"], &["r.api_key_id", "k.name"]),
        Dimension::Model => (&["t.model"], &["r.model"]),
        Dimension::Resolution => (
            std::slice::from_ref(&USAGE_SQL.resolution),
            &["NULLIF(r.resolution, '')"],
        ),
        Dimension::Mode => (
            std::slice::from_ref(&USAGE_SQL.mode),
            &["NULLIF(r.mode, '')"],
        ),
        Dimension::UpstreamAccount => (&["t.provider"], &["NULLIF(r.provider, '')"]),
        Dimension::Day => (
            std::slice::from_ref(&USAGE_SQL.day),
            std::slice::from_ref(&USAGE_SQL.rollup_day),
        ),
        Dimension::Month => (
            std::slice::from_ref(&USAGE_SQL.month),
            std::slice::from_ref(&USAGE_SQL.rollup_month),
        ),
    }
}

/// The whole UTC days inside `[from, to)`, as day numbers `[first, end)` (empty when none).
fn whole_days(from_ms: i64, to_ms: i64) -> (i64, i64) {
    let first = from_ms.div_euclid(DAY_MS) + i64::from(from_ms.rem_euclid(DAY_MS) != 0);
    let end = to_ms.div_euclid(DAY_MS);
    if first < end {
        (first, end)
    } else {
        (first, first)
    }
}

/// The report's statement and its parameters after `$1`..`$4` (the range's start and end in
/// ms, and its whole days' first and end day numbers): the filters' values.
fn report_sql(query: &UsageQuery) -> (String, Vec<String>) {
    let (entry_group, sum_group): (Vec<&str>, Vec<&str>) = query
        .group_by
        .iter()
        .flat_map(|d| {
            let (entries, sums) = dimension_sql(*d);
            entries.iter().copied().zip(sums.iter().copied())
        })
        .unzip();
    let aliases: Vec<String> = (0..entry_group.len()).map(|i| format!("g{i}")).collect();
    let named = |exprs: &[&str]| -> Vec<String> {
        exprs
            .iter()
            .zip(&aliases)
            .map(|(expr, alias)| format!("{expr} AS {alias}"))
            .collect()
    };
    let joins = |account: &str, key: &str| {
        let mut sql = String::new();
        if query.group_by.contains(&Dimension::Account) {
            sql.push_str(&format!(" LEFT JOIN accounts a ON a.id = {account}"));
        }
        if query.group_by.contains(&Dimension::Key) {
            sql.push_str(&format!(" LEFT JOIN api_keys k ON k.id = {key}"));
        }
        sql
    };
    // Only the filters asked for are written, so each can use its index.
    let mut binds = Vec::new();
    let mut entry_filters = String::new();
    let mut sum_filters = String::new();
    for (entry_column, sum_column, value) in [
        ("e.account_id", "r.account_id", &query.account),
        ("t.api_key_id", "r.api_key_id", &query.key),
        ("t.model", "r.model", &query.model),
    ] {
        if let Some(value) = value {
            binds.push(value.clone());
            let n = binds.len() + 4;
            entry_filters.push_str(&format!(" AND {entry_column} = ${n}"));
            sum_filters.push_str(&format!(" AND {sum_column} = ${n}"));
        }
    }
    let entry_select = {
        let mut select = named(&entry_group);
        select.extend(
            ENTRY_FIGURES
                .iter()
                .map(|(name, expr)| format!("{expr} AS {name}")),
        );
        select.join(", ")
    };
    let sum_select = {
        let mut select = named(&sum_group);
        select.extend(
            ENTRY_FIGURES
                .iter()
                .map(|(name, _)| format!("r.{name} AS {name}")),
        );
        select.join(", ")
    };
    let entry_joins = joins("t.account_id", "t.api_key_id");
    let whole_from = format!("$3 * {DAY_MS}");
    let whole_to = format!("$4 * {DAY_MS}");
    let sources = [
        // The whole days' sums.
        format!(
            "SELECT {sum_select} FROM usage_daily r{} WHERE r.day >= $3 AND r.day < $4{sum_filters}",
            joins("r.account_id", "r.api_key_id")
        ),
        // Every entry of the partial first and last days.
        format!(
            "SELECT {entry_select} FROM ledger_entries e JOIN tasks t ON t.id = e.task_id{entry_joins} \
             WHERE e.task_id IS NOT NULL AND e.created_at_ms >= $1 \
             AND e.created_at_ms < {whole_from}{entry_filters}"
        ),
        format!(
            "SELECT {entry_select} FROM ledger_entries e JOIN tasks t ON t.id = e.task_id{entry_joins} \
             WHERE e.task_id IS NOT NULL AND e.created_at_ms >= {whole_to} \
             AND e.created_at_ms < $2{entry_filters}"
        ),
        // Within the whole days, the entries not summed yet: the holds of tasks still under
        // way, and whatever a replica of an earlier release wrote (the janitor sums those).
        format!(
            "SELECT {entry_select} FROM ledger_entries e JOIN tasks t ON t.id = e.task_id{entry_joins} \
             WHERE e.summed = 0 \
             AND e.created_at_ms >= {whole_from} AND e.created_at_ms < {whole_to}{entry_filters}"
        ),
    ];
    let mut outer: Vec<String> = aliases.clone();
    for (name, _) in ENTRY_FIGURES {
        outer.push(format!(
            "CAST(COALESCE(SUM(x.{name}), 0) AS BIGINT) AS {name}"
        ));
    }
    outer.push(
        "CAST(COALESCE(SUM(x.credits_held) - SUM(x.credits_returned) - SUM(x.credits_refunded), 0) \
         AS BIGINT) AS credits_charged"
            .into(),
    );
    let mut sql = format!(
        "SELECT {} FROM ({}) x",
        outer.join(", "),
        sources.join(" UNION ALL ")
    );
    if !aliases.is_empty() {
        let list = aliases.join(", ");
        sql.push_str(&format!(" GROUP BY {list} ORDER BY {list}"));
    }
    (sql, binds)
}

fn decode(row: &<Db as sqlx::Database>::Row, columns: usize) -> StoreResult<UsageRow> {
    let group = (0..columns)
        .map(|i| row.try_get::<Option<String>, _>(i))
        .collect::<Result<Vec<_>, _>>()?;
    let figure = |name: &str| row.try_get::<i64, _>(name);
    Ok(UsageRow {
        group,
        figures: UsageFigures {
            tasks: figure("tasks")?,
            succeeded: figure("succeeded")?,
            failed: figure("failed")?,
            cancelled: figure("cancelled")?,
            refunded: figure("refunded")?,
            refunds: figure("refunds")?,
            credits_held: figure("credits_held")?,
            credits_returned: figure("credits_returned")?,
            credits_refunded: figure("credits_refunded")?,
            credits_charged: figure("credits_charged")?,
            billable_seconds: figure("billable_seconds")?,
        },
    })
}

/// What the reader hands over: a row (or the error that stopped it), then `Finished` once every
/// row is out. A channel that closes without `Finished` means the reader gave up.
enum Read {
    Row(StoreResult<UsageRow>),
    Finished,
}

#[async_trait::async_trait]
impl UsageStore for This {
    /// Each task in a transaction of its own. A task another replica summed meanwhile is not
    /// counted.
    async fn sum_ended_tasks_usage(&self, limit: u32) -> StoreResult<u64> {
        let tasks: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT e.task_id FROM ledger_entries e JOIN tasks t ON t.id = e.task_id \
             WHERE e.summed = 0 AND t.status IN ('succeeded', 'failed', 'cancelled') LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut summed = 0;
        for task in &tasks {
            let mut tx = self.write_tx().await?;
            if roll_up(&mut tx, task).await? {
                summed += 1;
            }
            tx.commit().await?;
        }
        Ok(summed)
    }

    async fn usage_report(&self, query: &UsageQuery) -> StoreResult<UsageRows> {
        let (sql, binds) = report_sql(query);
        let columns = query.group_columns().len();
        let (from, to) = (query.from_ms, query.to_ms);
        let (first_day, end_day) = whole_days(from, to);
        let pool = self.pool().clone();
        // Reports wait for each other here, never for the connections other requests need.
        let permit = READERS
            .acquire()
            .await
            .map_err(|_| StoreError::Conflict("the store is shutting down".into()))?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
        // The reader owns the pool handle and the statement, so the stream outlives this call;
        // it stops at the first error, as soon as nobody reads, or when nobody has taken a row
        // for STALLED_READER (a client that stopped reading must not keep a connection).
        tokio::spawn(async move {
            let _permit = permit;
            let handed = |read: Read| {
                let sender = sender.clone();
                async move {
                    matches!(
                        tokio::time::timeout(STALLED_READER, sender.send(read)).await,
                        Ok(Ok(()))
                    )
                }
            };
            let mut statement = sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .bind(first_day)
                .bind(end_day);
            for value in binds {
                statement = statement.bind(value);
            }
            let mut rows = statement.fetch(&pool);
            while let Some(row) = rows.next().await {
                let item = row
                    .map_err(StoreError::from)
                    .and_then(|r| decode(&r, columns));
                let failed = item.is_err();
                if !handed(Read::Row(item)).await || failed {
                    return;
                }
            }
            handed(Read::Finished).await;
        });
        let first = match receiver.recv().await {
            Some(Read::Row(row)) => Some(row?),
            Some(Read::Finished) => None,
            None => return Err(gave_up()),
        };
        let finished = first.is_none();
        let rest = futures::stream::unfold(
            (receiver, finished),
            |(mut receiver, finished)| async move {
                if finished {
                    return None;
                }
                match receiver.recv().await {
                    Some(Read::Row(row)) => Some((row, (receiver, false))),
                    Some(Read::Finished) => None,
                    None => Some((Err(gave_up()), (receiver, true))),
                }
            },
        );
        Ok(futures::stream::iter(first.map(Ok)).chain(rest).boxed())
    }
}

fn gave_up() -> StoreError {
    StoreError::Conflict("the usage report's reader stopped before the last row".into())
}
