//! Usage reports: the ledger entries written in a range, joined to their tasks, grouped and
//! summed in the database and streamed out row by row.

use super::super::USAGE_SQL;
use super::*;
use crate::usage::{UsageRows, UsageStore, READERS, READ_AHEAD, STALLED_READER};
use futures::StreamExt;
use seedgate_core::usage::{Dimension, UsageFigures, UsageQuery, UsageRow};
use sqlx::Row;

/// The SQL of each grouping column of `dimension`, in [`Dimension::columns`] order.
fn dimension_sql(dimension: Dimension) -> &'static [&'static str] {
    match dimension {
        Dimension::Account => &["t.account_id", "a.name"],
        Dimension::Key => &["t.api_key_id", "k.name"],
        Dimension::Model => &["t.model"],
        Dimension::Resolution => std::slice::from_ref(&USAGE_SQL.resolution),
        Dimension::Mode => std::slice::from_ref(&USAGE_SQL.mode),
        Dimension::UpstreamAccount => &["t.provider"],
        Dimension::Day => std::slice::from_ref(&USAGE_SQL.day),
        Dimension::Month => std::slice::from_ref(&USAGE_SQL.month),
    }
}

/// The figures, in [`UsageFigures::COLUMNS`] order. Sums are cast back to BIGINT (PostgreSQL
/// sums BIGINTs as NUMERIC) and a sum over no rows is 0, not NULL. `refunded` counts tasks,
/// not entries: the ledger allows a task one release or one refund, never both, but the
/// count says what it means either way.
const FIGURES_SQL: &str = "\
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'hold' THEN 1 ELSE 0 END), 0) AS BIGINT) AS tasks, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'settle' THEN 1 ELSE 0 END), 0) AS BIGINT) AS succeeded, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'release' AND t.status = 'failed' THEN 1 ELSE 0 END), 0) \
        AS BIGINT) AS failed, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'release' AND t.status = 'cancelled' THEN 1 ELSE 0 END), 0) \
        AS BIGINT) AS cancelled, \
    CAST(COUNT(DISTINCT CASE WHEN e.kind IN ('release', 'refund') THEN e.task_id END) AS BIGINT) \
        AS refunded, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'refund' THEN 1 ELSE 0 END), 0) AS BIGINT) AS refunds, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'hold' THEN -e.amount ELSE 0 END), 0) AS BIGINT) \
        AS credits_held, \
    CAST(COALESCE(SUM(CASE WHEN e.kind IN ('settle', 'release') THEN e.amount ELSE 0 END), 0) \
        AS BIGINT) AS credits_returned, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'refund' THEN e.amount ELSE 0 END), 0) AS BIGINT) \
        AS credits_refunded, \
    CAST(COALESCE(-SUM(e.amount), 0) AS BIGINT) AS credits_charged, \
    CAST(COALESCE(SUM(CASE WHEN e.kind = 'settle' THEN t.billable_seconds ELSE 0 END), 0) AS BIGINT) \
        AS billable_seconds";

/// The report's statement and its text parameters after `$1` (from) and `$2` (to).
fn report_sql(query: &UsageQuery) -> (String, Vec<String>) {
    let group: Vec<&str> = query
        .group_by
        .iter()
        .flat_map(|d| dimension_sql(*d).iter().copied())
        .collect();
    let aliases: Vec<String> = (0..group.len()).map(|i| format!("g{i}")).collect();
    let mut select: Vec<String> = group
        .iter()
        .zip(&aliases)
        .map(|(expr, alias)| format!("{expr} AS {alias}"))
        .collect();
    select.push(FIGURES_SQL.to_string());
    let mut sql = format!(
        "SELECT {} FROM ledger_entries e JOIN tasks t ON t.id = e.task_id",
        select.join(", ")
    );
    if query.group_by.contains(&Dimension::Account) {
        sql.push_str(" LEFT JOIN accounts a ON a.id = t.account_id");
    }
    if query.group_by.contains(&Dimension::Key) {
        sql.push_str(" LEFT JOIN api_keys k ON k.id = t.api_key_id");
    }
    // Only the filters asked for are written, so each can use its index.
    sql.push_str(" WHERE e.task_id IS NOT NULL AND e.created_at_ms >= $1 AND e.created_at_ms < $2");
    let mut binds = Vec::new();
    for (column, value) in [
        ("e.account_id", &query.account),
        ("t.api_key_id", &query.key),
        ("t.model", &query.model),
    ] {
        if let Some(value) = value {
            binds.push(value.clone());
            sql.push_str(&format!(" AND {column} = ${}", binds.len() + 2));
        }
    }
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
    async fn usage_report(&self, query: &UsageQuery) -> StoreResult<UsageRows> {
        let (sql, binds) = report_sql(query);
        let columns = query.group_columns().len();
        let (from, to) = (query.from_ms, query.to_ms);
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
            let mut statement = sqlx::query(&sql).bind(from).bind(to);
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
